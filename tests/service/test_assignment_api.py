"""Automatic assignment and delegation through the HTTP API, on each backend."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsflow.people import Delegation, Person
from project_cli import engine_workflows


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    return engine_workflows(tmp_path, "review", "desk")


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


def started(client: TestClient, workflow: str, event: str) -> dict[str, Any]:
    answer = client.post(
        "/v1/cases", json={"workflow": workflow, "data": {"title": "t"}}, headers=as_("ann")
    )
    assert answer.status_code == 201, answer.text
    fired = client.post(f"/v1/cases/{answer.json()['id']}/events/{event}", headers=as_("ann"))
    assert fired.status_code == 200, fired.text
    case: dict[str, Any] = fired.json()["case"]
    return case


def away(engine: Any, who: str, to: str) -> None:
    """``who`` is away all week (the clock's Monday 2026-01-05 to Friday); ``to`` covers."""
    delegation = Delegation(to=to, start=date(2026, 1, 5), until=date(2026, 1, 9))
    engine.settings.people = {who: Person(delegate=delegation)}


def test_a_fire_into_an_assigning_state_answers_with_the_assignee(
    service: tuple[TestClient, Any],
) -> None:
    client, _engine = service
    case = started(client, "desk", "submit")
    assert case["assignee"] == "both"
    entries = client.get(f"/v1/cases/{case['id']}/history", headers=as_("ann")).json()
    assignment = entries["items"][-1]
    assert (assignment["kind"], assignment["actor"], assignment["detail"]["to"]) == (
        "assignment",
        "system",
        "both",
    )
    mine = client.get("/v1/inbox", params={"mine": "true"}, headers=as_("both")).json()
    assert [c["id"] for c in mine["items"]] == [case["id"]]


def test_the_workflow_says_who_each_state_assigns(client: TestClient) -> None:
    answer = client.get("/v1/workflows/desk", headers=as_("ann"))
    assert answer.status_code == 200, answer.text
    states = {s["name"]: s["assign"] for s in answer.json()["states"]}
    assert states == {
        "draft": None,
        "editing": {"role": "editor", "policy": "round_robin"},
        "legal": {"role": "legal", "policy": "least_open"},
        "review": {"field": "reviewer"},
        "parked": None,
        "done": None,
    }


def test_the_delegate_has_the_delegators_roles_and_acts_on_their_behalf(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case = started(client, "review", "submit")
    assert client.get("/v1/me", headers=as_("lou")).json()["roles"] == ["legal"]
    away(engine, "ed", "lou")
    assert client.get("/v1/me", headers=as_("lou")).json()["roles"] == ["editor", "legal"]
    put = client.put(f"/v1/cases/{case['id']}/assignee", json={"name": "lou"}, headers=as_("lou"))
    assert put.status_code == 200, put.text
    assert put.json()["assignee"] == "lou"
    fired = client.post(f"/v1/cases/{case['id']}/events/approve", headers=as_("lou"))
    assert fired.status_code == 200, fired.text
    assert fired.json()["case"]["state"] == "scheduled"
    url = f"/v1/cases/{case['id']}/history"
    items = client.get(url, headers=as_("ann")).json()["items"]
    approve = next(e for e in items if e["event"] == "approve")
    assert (approve["actor"], approve["detail"]) == ("lou", {"on_behalf_of": "ed"})


def test_without_a_delegation_the_same_requests_are_refused(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case = started(client, "review", "submit")
    before = engine.get(case["id"]).to_json(), len(engine.history(case["id"]))
    put = client.put(f"/v1/cases/{case['id']}/assignee", json={"name": "lou"}, headers=as_("lou"))
    assert put.status_code == 403, put.text
    fired = client.post(f"/v1/cases/{case['id']}/events/approve", headers=as_("lou"))
    assert fired.status_code == 403, fired.text
    assert fired.json()["code"] == "not_permitted"
    assert engine.get(case["id"]).to_json() == before[0]
    assert [e.kind for e in engine.history(case["id"])][before[1] :] == ["denied"]
