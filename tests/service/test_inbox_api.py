"""/v1/inbox: keyset pages of the cases where the actor can act now (both backends)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


@pytest.fixture(autouse=True)
def _gate(workflows_dir: Path) -> None:
    shutil.copy(FIXTURES / "inbox" / "gate.yaml", workflows_dir / "gate.yaml")
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "reasons"}
    return body


def pages(client: TestClient, who: str, query: str = "") -> list[list[dict[str, Any]]]:
    found, cursor = [], None
    while True:
        url = f"/v1/inbox?{query}" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(url, headers=as_(who))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"items", "next_cursor"}
        found.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def test_the_inbox_pages_without_duplicates_or_gaps(
    service: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = service
    ids = []
    for n in range(11):
        ids.append(engine.start("review", {"title": f"案例 {n}"}, actor="ann").id)
        if n % 3 == 0:
            clock.advance(seconds=30)
    engine.start("review", {"title": "started by both"}, actor="both")  # ann may submit it too
    found = pages(client, "ann", "limit=4")
    assert [len(p) for p in found] == [4, 4, 4]
    listed = [c["id"] for p in found for c in p]
    assert len(set(listed)) == len(listed) == 12
    whole = engine.inbox("ann")
    assert listed == [c.id for c in whole]
    assert found[0][0] == whole[0].to_json()  # the case JSON of opsflow inbox --json
    assert found[0][0]["events"] == [{"event": "submit", "allowed": True, "reasons": []}]


def test_only_cases_the_actor_can_act_on(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    own = engine.start("review", {"title": "own"}, actor="both")
    engine.fire(own.id, "submit", actor="both")
    small = engine.start("gate", {"title": "small", "amount": 5}, actor="ann")
    engine.start("gate", {"title": "big", "amount": 5000}, actor="ann")
    items = client.get("/v1/inbox", headers=as_("ed")).json()["items"]
    assert {c["id"]: [e["event"] for e in c["events"]] for c in items} == {
        own.id: ["approve", "cancel"],
        small.id: ["sign"],
    }
    items = client.get("/v1/inbox", headers=as_("both")).json()["items"]
    offered = {c["id"]: [e["event"] for e in c["events"]] for c in items}
    assert offered[own.id] == ["cancel"]  # four-eyes: not the approval of what both submitted
    assert client.get("/v1/inbox", headers=as_("pat")).json() == {"items": [], "next_cursor": None}


def test_mine_true_keeps_the_cases_assigned_to_the_actor(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    first = engine.start("review", {"title": "one"}, actor="ann").id
    engine.start("review", {"title": "two"}, actor="ann")
    engine.assign(first, "ann", actor="ann")
    mine = client.get("/v1/inbox?mine=true", headers=as_("ann")).json()
    assert [c["id"] for c in mine["items"]] == [first]
    assert mine["items"][0]["assignee"] == "ann"
    assert len(client.get("/v1/inbox?mine=false", headers=as_("ann")).json()["items"]) == 2


def test_cases_the_actor_may_not_read_are_not_in_the_inbox(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    secret = engine.start("hr", {"title": "pay"}, actor="ann")
    engine.fire(secret.id, "submit", actor="ann")
    assert client.get("/v1/inbox", headers=as_("ed")).json()["items"] == []  # ed may not read hr
    engine.settings.team["eve"] = ["editor", "legal"]
    items = client.get("/v1/inbox", headers=as_("eve")).json()["items"]
    assert [c["id"] for c in items] == [secret.id]


@pytest.mark.parametrize(
    "query", ["limit=100000", "limit=201", "limit=0", "limit=-3", "limit=ten", "mine=perhaps"]
)
def test_bad_limits_are_refused(service: tuple[TestClient, Any], query: str) -> None:
    client, engine = service
    engine.start("review", {"title": "t"}, actor="ann")
    body = problem(client.get(f"/v1/inbox?{query}", headers=as_("ann")), 422)
    assert body["code"] == "invalid"


@pytest.mark.parametrize(
    "cursor",
    [
        "x'%20OR%201=1%20--",
        "%E6%A1%88%E4%BE%8B",
        "e30",
        "AAAA",
        # ["0001-01-01T00:00:00+14:00", "x"]: a time before year 1 in UTC
        "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwieCJd",
    ],
)
def test_a_forged_cursor_is_400(service: tuple[TestClient, Any], cursor: str) -> None:
    client, engine = service
    engine.start("review", {"title": "t"}, actor="ann")
    body = problem(client.get(f"/v1/inbox?cursor={cursor}", headers=as_("ann")), 400)
    assert body["detail"] == "invalid inbox cursor"
    assert len(engine.cases()) == 1


def test_the_inbox_needs_authentication(client: TestClient) -> None:
    problem(client.get("/v1/inbox"), 401)
