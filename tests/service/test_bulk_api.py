"""``POST /v1/bulk/events`` on both backends."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

MISSING = "0" * 32
ED = {"Authorization": "Bearer ed"}


def _in_review(engine: Any, by: str = "ann", **data: Any) -> str:
    case = engine.start("review", {"title": "t", **data}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def _lengths(engine: Any, ids: list[str]) -> list[int]:
    return [len(engine.history(i)) for i in ids]


def _post(client: TestClient, body: Any, actor: str = "ed", **headers: str) -> Any:
    return client.post(
        "/v1/bulk/events", json=body, headers={"Authorization": f"Bearer {actor}", **headers}
    )


def test_mixed_outcomes_answer_200_with_each_case_and_counts(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    ok = _in_review(engine)
    four_eyes = _in_review(engine, by="both")
    case = engine.start("review", {"title": "t", "kind": "ad"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")  # now in legal: approve is for legal, brand
    draft = engine.start("review", {"title": "t"}, actor="ann").id
    ids = [ok, four_eyes, case.id, draft, MISSING, ok]
    answer = _post(client, {"event": "approve", "cases": ids, "comment": "batch"}, "both")
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["total"] == 5  # the repeated id once
    assert doc["counts"] == {
        "done": 1,
        "not_permitted": 2,
        "refused": 1,
        "not_found": 1,
        "invalid": 0,
        "conflict": 0,
        "failed": 0,
    }
    results = {r["case"]: r for r in doc["results"]}
    assert results[ok] == {
        "case": ok,
        "status": "done",
        "outcome": "transitioned",
        "state": "scheduled",
        "from": "review",
    }
    assert results[four_eyes]["error"]["code"] == "not_permitted"
    assert any("four-eyes" in r for r in results[four_eyes]["error"]["reasons"])
    assert results[case.id]["error"]["code"] == "not_permitted"
    assert results[draft]["error"]["code"] == "refused"
    assert results[MISSING]["error"]["code"] == "not_found"
    assert engine.get(ok).state == "scheduled"
    assert engine.history(ok)[-1].comment == "batch"


def test_a_filter_selects_the_cases(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    cheap = _in_review(engine, budget=10)
    dear = [_in_review(engine, budget=50_000), _in_review(engine, budget=20_000)]
    draft = engine.start("review", {"title": "t", "budget": 90_000}, actor="ann").id
    body = {
        "event": "approve",
        "filter": {"workflow": "review", "state": "review", "where": "budget > 10000"},
    }
    answer = _post(client, body)
    assert answer.status_code == 200, answer.text
    assert sorted(r["case"] for r in answer.json()["results"]) == sorted(dear)
    assert answer.json()["counts"]["done"] == 2
    assert [engine.get(i).state for i in dear] == ["scheduled", "scheduled"]
    assert engine.get(cheap).state == "review"
    assert engine.get(draft).state == "draft"
    states = _post(client, {"event": "cancel", "filter": {"state": ["review", "draft"]}})
    assert states.status_code == 200, states.text
    assert sorted(r["case"] for r in states.json()["results"]) == sorted([cheap, draft])


def test_a_filter_matching_nothing_is_an_empty_answer(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    _in_review(engine)
    answer = _post(client, {"event": "approve", "filter": {"q": "nothing like this"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 0
    assert answer.json()["results"] == []


def test_a_filter_the_search_cannot_run_is_400_and_nothing_is_done(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case_id = _in_review(engine)
    answer = _post(client, {"event": "approve", "filter": {"where": "title.upper() == 'X'"}})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert engine.get(case_id).state == "review"


def test_dry_run_writes_nothing_and_a_read_only_token_may_ask(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    ids = [_in_review(engine), _in_review(engine)]
    before = _lengths(engine, ids)
    answer = _post(client, {"event": "approve", "cases": ids, "dry_run": True}, "ed:ro")
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["dry_run"] is True
    assert [r["outcome"] for r in doc["results"]] == ["dry_run", "dry_run"]
    assert [r["would"]["to"] for r in doc["results"]] == ["scheduled", "scheduled"]
    assert _lengths(engine, ids) == before
    refused = _post(client, {"event": "approve", "cases": ids}, "ed:ro")
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_permitted"
    assert _lengths(engine, ids) == before


def test_more_than_10000_cases_is_refused_with_the_count(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = _in_review(engine)
    ids = [case_id] + [uuid.uuid4().hex for _ in range(10_000)]
    answer = _post(client, {"event": "approve", "cases": ids})
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["code"] == "usage"
    assert "10,001 cases" in problem["detail"]
    assert engine.get(case_id).state == "review"
    assert len(engine.history(case_id)) == 2


def test_the_limit_of_a_filter_is_checked_before_anything(
    service: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsflow.runners import bulk

    client, engine = service
    monkeypatch.setattr(bulk, "MAX_CASES", 2)
    ids = [_in_review(engine) for _ in range(3)]
    answer = _post(client, {"event": "approve", "filter": {"workflow": "review"}})
    assert answer.status_code == 400
    assert "the filter matches 3 cases" in answer.json()["detail"]
    assert [engine.get(i).state for i in ids] == ["review"] * 3


@pytest.mark.parametrize(
    "body",
    [
        {"event": "approve"},
        {"event": "approve", "cases": [MISSING], "filter": {"workflow": "review"}},
        {"event": "approve", "cases": [MISSING], "extra": 1},
        {"event": "approve", "filter": {"workflow": "review", "color": "red"}},
        {"event": "", "cases": [MISSING]},
        {"event": "approve", "cases": [""]},
        {"event": "approve", "cases": "0000"},
        ["approve"],
    ],
)
def test_a_malformed_body_is_422_and_nothing_is_done(
    service: tuple[TestClient, Any], body: Any
) -> None:
    client, engine = service
    case_id = _in_review(engine)
    answer = _post(client, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid"
    assert len(engine.history(case_id)) == 2


def test_an_empty_list_is_a_usage_error(service: tuple[TestClient, Any]) -> None:
    client, _engine = service
    answer = _post(client, {"event": "approve", "cases": []})
    assert answer.status_code == 400
    assert "no cases given" in answer.json()["detail"]


def test_without_authentication_401(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = _in_review(engine)
    answer = client.post("/v1/bulk/events", json={"event": "approve", "cases": [case_id]})
    assert answer.status_code == 401
    assert engine.get(case_id).state == "review"


def test_an_idempotency_key_applies_per_case(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    ids = [_in_review(engine), _in_review(engine)]
    body = {"event": "approve", "cases": ids}
    first = _post(client, body, **{"Idempotency-Key": "k" * 150})
    assert first.status_code == 200, first.text
    assert first.json()["counts"]["done"] == 2
    lengths = _lengths(engine, ids)
    again = _post(client, body, **{"Idempotency-Key": "k" * 150})
    assert again.status_code == 200
    assert [r["outcome"] for r in again.json()["results"]] == ["replayed", "replayed"]
    assert _lengths(engine, ids) == lengths
    other = _post(client, {**body, "comment": "other"}, **{"Idempotency-Key": "k" * 150})
    assert [r["status"] for r in other.json()["results"]] == ["refused", "refused"]
    assert _lengths(engine, ids) == lengths
    someone_else = _post(
        client, {"event": "cancel", "cases": ids}, "eve", **{"Idempotency-Key": "k" * 150}
    )
    assert someone_else.json()["counts"]["done"] == 2  # keys are per actor


def test_sql_metacharacters_and_chinese(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    ids = [_in_review(engine), _in_review(engine)]
    comment = "同意'); DROP TABLE cases; --"
    title = '标题" OR 1=1 --'
    answer = _post(
        client, {"event": "approve", "cases": ids, "comment": comment, "data": {"title": title}}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["done"] == 2
    assert [engine.history(i)[-1].comment for i in ids] == [comment, comment]
    assert [engine.get(i).data["title"] for i in ids] == [title, title]
    odd = _post(client, {"event": "批准'; DELETE FROM cases; --", "cases": ids})
    assert odd.status_code == 200
    assert odd.json()["counts"]["not_found"] == 2
    found = _post(client, {"event": "cancel", "filter": {"q": '标题" OR'}})
    assert found.status_code == 200, found.text
    assert found.json()["counts"]["done"] == 2
    assert len(engine.cases()) == 2
