"""``GET /v1/cases``: search through the HTTP API, on both backends.

Filters, keyset pages without duplicates or gaps, refused limits and cursors, ``where``
attacks, SQL metacharacters and Chinese in every string parameter: each answers 200 with
the right cases or a clean 4xx problem, and the cases table stays intact.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import fake_identity
from fastapi.testclient import TestClient

from opsflow.engine import access
from opsflow.engine.search import SearchQuery
from opsflow.service import create_app
from opsflow.service.auth import identity

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"
ANN = {"Authorization": "Bearer ann"}


@pytest.fixture
def api(make_engine: Any, workflows_dir: Path, clock: Any) -> Iterator[tuple[TestClient, Any]]:
    """A client on an app whose engine has the search fixtures and a few cases."""
    (workflows_dir / "review.yaml").unlink()
    for name in ("deals.yaml", "tickets.yaml", "secret.yaml"):
        shutil.copy(FIXTURES / name, workflows_dir / name)
    engine = make_engine()
    for i in range(7):
        data = {"title": f"deal {i}", "budget": i * 5000, "notes": "中文备注" if i % 2 else "plain"}
        engine.start("deals", data, actor="ann")
        clock.advance(minutes=1)
    engine.start("deals", {"title": "50% off_now \\ 中文"}, actor="ann")
    engine.start("tickets", {"title": "printer", "budget": 12000}, actor="ann")
    engine.start("secret", {"title": "hidden", "budget": 99999}, actor="lou")
    access.restrictions(engine, fresh=True)
    app = create_app(engine)
    app.dependency_overrides[identity] = fake_identity
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, engine


def search(client: TestClient, **params: Any) -> Any:
    return client.get("/v1/cases", params=params, headers=ANN)


def titles(client: TestClient, **params: Any) -> set[str]:
    answer = search(client, limit=200, **params)
    assert answer.status_code == 200, answer.text
    return {case["data"].get("title") for case in answer.json()["items"]}


def count(engine: Any) -> int:
    return int(engine.search_count(SearchQuery(), actor="system"))


def test_filters(api: tuple[TestClient, Any]) -> None:
    client, _engine = api
    assert titles(client, workflow="tickets") == {"printer"}
    assert titles(client, where="budget > 20000") == {"deal 5", "deal 6"}
    assert titles(client, where="budget > 10000", workflow="deals") == {
        "deal 3",
        "deal 4",
        "deal 5",
        "deal 6",
    }
    assert "deal 0" in titles(client, where="not (budget > 1000)")
    assert "50% off_now \\ 中文" in titles(client, where="not (budget > 1000)")  # unset
    assert titles(client, q="中文") == {"deal 1", "deal 3", "deal 5", "50% off_now \\ 中文"}
    assert titles(client, state=["draft", "open"], where="budget >= 12000") == {
        "deal 3",
        "deal 4",
        "deal 5",
        "deal 6",
        "printer",
    }
    assert titles(client, open="false") == set()
    assert titles(client, created_before="2026-01-05T09:01:00Z") == {"deal 0"}
    assert "deal 0" not in titles(client, created_after="2026-01-05T09:01:00+00:00")
    assert "hidden" not in titles(client)  # not readable by ann
    answer = client.get(
        "/v1/cases", params={"where": "budget == 99999"}, headers={"Authorization": "Bearer lou"}
    )
    assert [c["data"]["title"] for c in answer.json()["items"]] == ["hidden"]


def test_the_answer_holds_cases_as_the_cli_shows_them(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    answer = search(client, where="budget == 5000")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"items", "next_cursor"}
    (case,) = body["items"]
    assert body["next_cursor"] is None
    assert {"id", "workflow", "state", "data", "assignee", "deadlines", "created_at"} <= set(case)
    assert (
        case == engine.search(SearchQuery(where="budget == 5000"), actor="ann").items[0].to_json()
    )


@pytest.mark.parametrize(
    "sort", ["-created_at", "created_at", "updated_at", "-updated_at", "id", "-id"]
)
def test_pages_cover_every_case_once(api: tuple[TestClient, Any], sort: str) -> None:
    client, _engine = api
    everyone = titles(client)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, "sort": sort}
        if cursor:
            params["cursor"] = cursor
        answer = search(client, **params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["items"]) <= 3
        seen += [case["data"]["title"] for case in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(everyone) == 9
    assert set(seen) == everyone
    assert pages == 3


@pytest.mark.parametrize("limit", ["0", "201", "100000", "-5", "lots"])
def test_a_limit_out_of_range_is_refused_not_clamped(
    api: tuple[TestClient, Any], limit: str
) -> None:
    client, _engine = api
    answer = search(client, limit=limit)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "limit" in " ".join(answer.json()["reasons"])


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "W10", "eyJ4IjoxfQ", "!!!", "中文", "'; drop table cases; --", "x" * 400],
)
def test_a_bad_cursor_is_a_400(api: tuple[TestClient, Any], cursor: str) -> None:
    client, engine = api
    answer = search(client, cursor=cursor)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "invalid_query"
    assert answer.json()["detail"] == "invalid cursor"


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_cursor_beyond_the_years_a_time_holds_is_a_400(
    api: tuple[TestClient, Any], moment: str
) -> None:
    client, _engine = api
    made = json.dumps(["-created_at", moment, "25e37e3592144767b9d38cfb610f11ca"])
    cursor = base64.urlsafe_b64encode(made.encode()).decode().rstrip("=")
    answer = search(client, cursor=cursor)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == "invalid cursor"


def test_a_cursor_of_another_sort_is_refused(api: tuple[TestClient, Any]) -> None:
    client, _engine = api
    cursor = search(client, limit=2).json()["next_cursor"]
    answer = search(client, limit=2, cursor=cursor, sort="id")
    assert answer.status_code == 400
    assert answer.json()["detail"] == "invalid cursor"


@pytest.mark.parametrize(
    ("where", "detail"),
    [
        ("budget.__class__ == 1", "field on one side"),
        ("().__class__.__bases__[0].__subclasses__() == 1", "field on one side"),
        ("open('x')", "where compares fields with literals"),
        ("budget == open('/etc/passwd')", "not a call"),
        ("budget > 99999999999999999999999", "out of range"),
        ("(" * 10_000 + "budget > 1" + ")" * 10_000, None),
        ("(" * 900 + "budget > 1" + ")" * 900, "nested"),
        ("budgt > 5", "unknown field 'budgt' (did you mean 'budget'?)"),
        ("budget > 1; drop table cases", "syntax error"),
        ("budget > 1 or 1 == 1", "field on one side"),
        ("__import__('os').system('id')", "where compares fields with literals"),
    ],
)
def test_where_attacks_are_refused_cleanly(
    api: tuple[TestClient, Any], where: str, detail: str | None
) -> None:
    client, engine = api
    before = count(engine)
    answer = search(client, where=where)
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    if detail is not None:
        assert answer.status_code == 400
        assert body["code"] == "invalid_query"
        assert detail in body["detail"]
        assert "\n" not in body["detail"]
    assert "Traceback" not in answer.text
    assert count(engine) == before


HOSTILE = ["'; drop table cases; --", "' OR '1'='1", "%", "_", "\\", '"', "中文", "%_\\'\""]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("param", ["workflow", "state", "assignee", "q", "where", "sort"])
def test_metacharacters_and_chinese_in_every_string_parameter(
    api: tuple[TestClient, Any], param: str, value: str
) -> None:
    client, engine = api
    before = count(engine)
    answer = search(client, **{param: value})
    assert answer.status_code in (200, 400, 404, 422), answer.text
    if answer.status_code == 200:
        found = {case["data"]["title"] for case in answer.json()["items"]}
        if param == "q":
            assert found <= {"50% off_now \\ 中文", "deal 1", "deal 3", "deal 5"}
        else:
            assert found == set()
    else:
        assert answer.headers["content-type"] == "application/problem+json"
    literal = search(client, where=f"title == {value!r}")
    assert literal.status_code == 200
    assert literal.json()["items"] == []
    assert count(engine) == before == 10


def test_q_finds_wildcards_literally(api: tuple[TestClient, Any]) -> None:
    client, _engine = api
    for text in ("%", "_", "\\", "off_now", "50%"):
        assert titles(client, q=text) == {"50% off_now \\ 中文"}, text
    assert titles(client, q="DEAL 1") == {"deal 1"}


def test_search_needs_authentication(api: tuple[TestClient, Any]) -> None:
    client, _engine = api
    assert client.get("/v1/cases").status_code == 401


def test_a_time_without_an_offset_is_on_the_project_clocks(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    engine.settings.timezone = "Asia/Shanghai"  # the first deal: 09:00 UTC, 17:00 there
    assert titles(client, created_before="2026-01-05T17:01") == {"deal 0"}
    assert titles(client, created_before="2026-01-05T09:01") == set()
    assert titles(client, created_before="2026-01-05T09:01:00Z") == {"deal 0"}  # as given
    assert titles(client, where="created_at < '2026-01-05T17:01'") == {"deal 0"}
    assert titles(client, created_after="2026-01-06", where="budget >= 0") == set()
    # the answer's times are ISO 8601 with an offset (UTC), whatever the project's zone
    (case,) = search(client, where="budget == 5000").json()["items"]
    assert case["created_at"] == "2026-01-05T09:01:00+00:00"
