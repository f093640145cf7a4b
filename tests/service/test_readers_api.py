"""Who may see what over HTTP: an unreadable case answers 404 exactly as a missing one.

Probed by id, history, fire, dry run, data change, compute, graph, inbox, assignment and
search, on each backend; nothing is written (no denied entry either).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import fake_identity
from fastapi.testclient import TestClient

from opsflow.service import create_app
from opsflow.service.auth import identity

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MISSING = "0" * 32


@pytest.fixture
def api(make_engine: Callable[..., Any], workflows_dir: Path) -> Iterator[tuple[TestClient, Any]]:
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")
    engine = make_engine()
    engine.settings.admins = ["dir"]
    app = create_app(engine)
    app.dependency_overrides[identity] = fake_identity
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, engine


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


@pytest.fixture
def secret(api: tuple[TestClient, Any]) -> str:
    client, _engine = api
    started = client.post(
        "/v1/cases", json={"workflow": "hr", "data": {"title": "x"}}, headers=as_("ann")
    )
    assert started.status_code == 201, started.text
    case_id: str = started.json()["id"]
    fired = client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann"))
    assert fired.status_code == 200, fired.text
    return case_id


def _probes(case_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/v1/cases/{case_id}", None),
        ("GET", f"/v1/cases/{case_id}/history", None),
        ("GET", f"/v1/cases/{case_id}/history/verify", None),
        ("POST", f"/v1/cases/{case_id}/events/approve", {}),
        ("POST", f"/v1/cases/{case_id}/events/approve?dry_run=true", {}),
        ("PATCH", f"/v1/cases/{case_id}/data", {"title": "y"}),
        ("POST", f"/v1/cases/{case_id}/compute", {}),
        ("GET", f"/v1/workflows/hr/graph?case={case_id}", None),
        ("POST", f"/v1/cases/{case_id}/claim", None),
        ("PUT", f"/v1/cases/{case_id}/assignee", {"name": "ed"}),
    ]


def _body_without_id(answer: Any, case_id: str) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    body["detail"] = body["detail"].replace(case_id, "ID")
    return body


def test_every_probe_answers_as_for_a_missing_case(
    api: tuple[TestClient, Any], secret: str
) -> None:
    client, engine = api
    entries = len(engine.history(secret, actor="dir"))
    row_version = engine.get(secret).row_version
    for method, path, body in _probes(secret):
        missing = client.request(
            method, path.replace(secret, MISSING), json=body, headers=as_("ed")
        )
        hidden = client.request(method, path, json=body, headers=as_("ed"))
        assert hidden.status_code == 404, (path, hidden.text)
        assert missing.status_code == 404, (path, missing.text)
        assert hidden.headers["content-type"] == "application/problem+json"
        assert _body_without_id(hidden, secret) == _body_without_id(missing, MISSING), path
    assert len(engine.history(secret, actor="dir")) == entries  # no denied entry
    assert engine.get(secret).row_version == row_version


def test_the_inbox_leaves_it_out(api: tuple[TestClient, Any], secret: str) -> None:
    client, engine = api
    inbox = client.get("/v1/inbox", headers=as_("ed")).json()
    assert secret not in [c["id"] for c in inbox["items"]]  # approve is ed's, yet hidden
    engine.settings.admins = ["dir", "ed"]
    inbox = client.get("/v1/inbox", headers=as_("ed")).json()
    assert secret in [c["id"] for c in inbox["items"]]


def test_a_reader_an_admin_and_who_acted_read_it(api: tuple[TestClient, Any], secret: str) -> None:
    client, _engine = api
    for who in ("lou", "dir", "ann", "lou:ro"):
        answer = client.get(f"/v1/cases/{secret}", headers=as_(who))
        assert answer.status_code == 200, (who, answer.text)
        history = client.get(f"/v1/cases/{secret}/history", headers=as_(who))
        assert history.status_code == 200, (who, history.text)
        assert [e["kind"] for e in history.json()["items"]] == ["start", "transition"]


def test_me_says_admin_and_locale(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    me = client.get("/v1/me", headers=as_("dir")).json()
    assert me["admin"] is True
    assert me["locale"] == engine.settings.server.locale
    assert me["display_name"] is None
    assert me["email"] is None
    assert client.get("/v1/me", headers=as_("ed")).json()["admin"] is False


def test_search_leaves_it_out(api: tuple[TestClient, Any], secret: str) -> None:
    client, _engine = api
    hidden = client.get("/v1/cases", params={"workflow": "hr"}, headers=as_("ed"))
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["items"] == []
    shown = client.get("/v1/cases", params={"workflow": "hr"}, headers=as_("lou")).json()
    assert [c["id"] for c in shown["items"]] == [secret]
    found = client.get("/v1/cases", params={"q": "x"}, headers=as_("ed")).json()
    assert secret not in [c["id"] for c in found["items"]]


def test_open_case_counts_leave_it_out(api: tuple[TestClient, Any], secret: str) -> None:
    client, _engine = api

    def counts(who: str) -> tuple[int, int]:
        listed = client.get("/v1/workflows", headers=as_(who)).json()
        (hr,) = [w["open_cases"] for w in listed if w["id"] == "hr"]
        return hr, client.get("/v1/workflows/hr", headers=as_(who)).json()["open_cases"]

    assert counts("ed") == (0, 0)  # not even how many there are
    assert counts("lou") == (1, 1)
    assert counts("dir") == (1, 1)
