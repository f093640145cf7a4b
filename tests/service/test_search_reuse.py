"""``GET /v1/cases`` when the page's statement is reused, on both backends.

A search by an actor who reads every case reuses one statement per query (the cursor's
key and id are bound parameters). These tests pin what must not change with it: the
answer's exact bytes, every page once in every sort (asked twice over), cursors still
checked, and a statement made for an admin never serving an actor with readers' limits.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from fakes import fake_identity
from fastapi.testclient import TestClient

from opsflow.core.results import Case
from opsflow.engine import access
from opsflow.engine.search import SearchQuery, encode_cursor
from opsflow.errors import InvalidQuery
from opsflow.service import create_app
from opsflow.service.auth import identity

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"
SYSTEM = {"Authorization": "Bearer system"}  # reads every case: the reused statement
ANN = {"Authorization": "Bearer ann"}  # may not read 'secret': built per request


@pytest.fixture
def api(make_engine: Any, workflows_dir: Path, clock: Any) -> Iterator[tuple[TestClient, Any]]:
    (workflows_dir / "review.yaml").unlink()
    for name in ("deals.yaml", "tickets.yaml", "secret.yaml"):
        shutil.copy(FIXTURES / name, workflows_dir / name)
    engine = make_engine()
    for i in range(7):
        engine.start("deals", {"title": f"deal {i}", "budget": i * 5000}, actor="ann")
        clock.advance(minutes=1)
    engine.start("tickets", {"title": "printer", "budget": 12000}, actor="ann")
    engine.start("secret", {"title": "hidden", "budget": 99999}, actor="lou")
    access.restrictions(engine, fresh=True)
    app = create_app(engine)
    app.dependency_overrides[identity] = fake_identity
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, engine


def test_the_answer_is_byte_for_byte_as_before(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    for _ in range(2):  # built, then reused
        answer = client.get("/v1/cases", params={"where": "budget == 5000"}, headers=SYSTEM)
        assert answer.status_code == 200, answer.text
        (case,) = engine.search(SearchQuery(where="budget == 5000"), actor="system").items
        created = case.created_at.isoformat()
        assert created.endswith("+00:00")
        assert answer.content.decode() == (
            '{"items":[{"assignee":null,"closed":false,"created_at":"' + created + '",'
            '"created_by":"ann","data":{"budget":5000,"title":"deal 1"},"deadlines":[],'
            '"entered_at":"' + created + '","events":[],"id":"' + case.id + '",'
            '"incidents":[],"metrics":{},"state":"draft","updated_at":"' + created + '",'
            '"version":1,"workflow":"deals"}],"next_cursor":null}'
        )


@pytest.mark.parametrize(
    "sort", ["-created_at", "created_at", "updated_at", "-updated_at", "id", "-id"]
)
def test_pages_cover_every_case_once_when_asked_again(
    api: tuple[TestClient, Any], sort: str
) -> None:
    client, _engine = api
    rounds = []
    for _ in range(2):  # the second round reuses the statements of the first
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 4, "sort": sort, "where": "budget >= 0"}
            if cursor:
                params["cursor"] = cursor
            answer = client.get("/v1/cases", params=params, headers=SYSTEM)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            seen += [case["data"]["title"] for case in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        rounds.append(seen)
    assert rounds[0] == rounds[1]
    assert len(rounds[0]) == len(set(rounds[0])) == 9  # 7 deals, the ticket, the secret


def test_a_statement_made_for_an_admin_never_serves_a_restricted_reader(
    api: tuple[TestClient, Any],
) -> None:
    client, _engine = api
    params = {"where": "budget == 99999"}
    for _ in range(2):
        found = client.get("/v1/cases", params=params, headers=SYSTEM).json()["items"]
        assert [case["data"]["title"] for case in found] == ["hidden"]
        assert client.get("/v1/cases", params=params, headers=ANN).json()["items"] == []


def test_cursors_are_still_checked_on_a_reused_statement(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    first = client.get("/v1/cases", params={"limit": 2}, headers=SYSTEM).json()
    cursor = first["next_cursor"]
    assert client.get("/v1/cases", params={"limit": 2, "cursor": cursor}, headers=SYSTEM).is_success
    bad = client.get("/v1/cases", params={"limit": 2, "cursor": cursor[:-3]}, headers=SYSTEM)
    assert bad.status_code == 400
    assert "invalid cursor" in bad.text
    other_sort = encode_cursor("id", "abc", "abc")
    with pytest.raises(InvalidQuery, match="invalid cursor"):
        engine.search(SearchQuery(limit=2, cursor=other_sort), actor="system")
    with pytest.raises(InvalidQuery, match="invalid cursor"):
        engine.search_ids(SearchQuery(cursor=other_sort), actor="system")


def test_a_listed_case_has_every_field_a_case_has(api: tuple[TestClient, Any]) -> None:
    _client, engine = api
    for case in engine.search(SearchQuery(), actor="system").items:
        assert set(vars(case)) == {f.name for f in fields(Case)}
        assert case == Case(**{f.name: getattr(case, f.name) for f in fields(Case)})
