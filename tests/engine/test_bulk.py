"""Bulk fire: one event on many cases, each its own step and transaction (on both backends)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from opsflow.errors import NotPermitted, Usage
from opsflow.runners import bulk

MISSING = "0" * 32  # a whole id no case has


def _in_review(engine: Any, by: str = "ann", **data: Any) -> str:
    case = engine.start("review", {"title": "t", **data}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def _in_legal(engine: Any) -> str:
    case_id = _in_review(engine, kind="ad")
    engine.fire(case_id, "approve", actor="ed")
    assert engine.get(case_id).state == "legal"
    return case_id


def _lengths(engine: Any, ids: list[str]) -> dict[str, int]:
    return {i: len(engine.history(i)) for i in ids}


@pytest.fixture
def mixed(engine: Any) -> dict[str, str]:
    """Cases that ``both`` (author and editor) approving meets in every way."""
    return {
        "ok1": _in_review(engine),
        "ok2": _in_review(engine),
        "four_eyes": _in_review(engine, by="both"),  # both submitted it: not_by [submit]
        "roles": _in_legal(engine),  # approve in legal is for legal and brand
        "draft": engine.start("review", {"title": "t"}, actor="ann").id,  # wrong state
    }


def test_mixed_outcomes_each_case_on_its_own(engine: Any, mixed: dict[str, str]) -> None:
    ids = [*mixed.values(), MISSING]
    result = engine.bulk_fire("approve", cases=ids, actor="both", comment="batch")
    assert result.total == 6
    assert result.counts == {
        "done": 2,
        "not_permitted": 2,
        "refused": 1,
        "not_found": 1,
        "invalid": 0,
        "conflict": 0,
        "failed": 0,
    }
    assert not result.all_done
    by_case = {item.case: item for item in result.items}
    assert [item.case for item in result.items] == ids  # in the order given
    for name in ("ok1", "ok2"):
        item = by_case[mixed[name]]
        assert (item.status, item.outcome, item.state) == ("done", "transitioned", "scheduled")
        assert item.from_state == "review"
        assert engine.get(mixed[name]).state == "scheduled"
        assert engine.history(mixed[name])[-1].comment == "batch"
    four = by_case[mixed["four_eyes"]]
    assert (four.status, four.code) == ("not_permitted", "not_permitted")
    assert any("submit" in r for r in four.reasons)
    roles = by_case[mixed["roles"]]
    assert (roles.status, roles.code) == ("not_permitted", "not_permitted")
    assert roles.reasons
    draft = by_case[mixed["draft"]]
    assert (draft.status, draft.code) == ("refused", "refused")
    assert draft.message
    missing = by_case[MISSING]
    assert (missing.status, missing.code) == ("not_found", "not_found")
    # refusals are audited as for a single fire, and change nothing else
    assert engine.history(mixed["four_eyes"])[-1].kind == "denied"
    assert engine.get(mixed["four_eyes"]).state == "review"
    assert engine.get(mixed["roles"]).state == "legal"
    assert engine.get(mixed["draft"]).state == "draft"


def test_json_shape(engine: Any, mixed: dict[str, str]) -> None:
    doc = engine.bulk_fire("approve", cases=[mixed["ok1"], mixed["draft"]], actor="both").to_json()
    assert set(doc) == {"event", "dry_run", "total", "counts", "results"}
    assert (doc["event"], doc["dry_run"], doc["total"]) == ("approve", False, 2)
    assert doc["counts"]["done"] == 1
    assert doc["counts"]["refused"] == 1
    done, refused = doc["results"]
    assert done == {
        "case": mixed["ok1"],
        "status": "done",
        "outcome": "transitioned",
        "state": "scheduled",
        "from": "review",
    }
    assert set(refused) == {"case", "status", "error"}
    assert refused["status"] == "refused"
    assert set(refused["error"]) == {"code", "message", "reasons"}
    assert refused["error"]["code"] == "refused"


def test_an_approval_vote_is_done_with_its_count(engine: Any) -> None:
    ids = [_in_legal(engine), _in_legal(engine)]
    result = engine.bulk_fire("approve", cases=ids, actor="lou")
    assert [i.outcome for i in result.items] == ["approval_recorded"] * 2
    assert [i.approvals for i in result.items] == [(1, 2), (1, 2)]
    assert result.to_json()["results"][0]["approvals"] == {"have": 1, "need": 2}
    assert result.all_done


def test_duplicates_and_a_prefix_of_the_same_case_are_handled_once(engine: Any) -> None:
    first, second = _in_review(engine), _in_review(engine)
    result = engine.bulk_fire("approve", cases=[first, second, first, first[:8]], actor="ed")
    assert [i.case for i in result.items] == [first, second]
    assert result.counts["done"] == 2
    assert [e.kind for e in engine.history(first)].count("transition") == 2  # submit, approve


def test_a_prefix_is_resolved_and_a_bad_one_reported(engine: Any) -> None:
    case_id = _in_review(engine)
    result = engine.bulk_fire("approve", cases=[case_id[:8], "zz"], actor="ed")
    assert result.items[0].status == "done"
    assert result.items[0].case == case_id[:8]  # as given
    assert result.items[1].status == "not_found"
    assert engine.get(case_id).state == "scheduled"


def test_dry_run_writes_nothing_and_shows_what_each_would_do(
    engine: Any, mixed: dict[str, str]
) -> None:
    ids = list(mixed.values())
    before = _lengths(engine, ids)
    states = {i: engine.get(i).state for i in ids}
    result = engine.bulk_fire("approve", cases=ids, actor="both", dry_run=True, comment="x")
    assert result.dry_run
    assert result.counts["done"] == 2
    assert result.counts["not_permitted"] == 2
    assert result.counts["refused"] == 1
    ok = result.items[0]
    assert (ok.outcome, ok.state) == ("dry_run", "review")
    assert ok.would is not None
    assert ok.would["to"] == "scheduled"
    assert result.to_json()["results"][0]["would"]["to"] == "scheduled"
    assert _lengths(engine, ids) == before  # not even a denied entry
    assert {i: engine.get(i).state for i in ids} == states


def test_more_than_the_limit_is_refused_with_the_count_before_anything(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = _in_review(engine)
    ids = [case_id] + [uuid.uuid4().hex for _ in range(10_000)]

    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("looked up a case")

    monkeypatch.setattr(bulk.persist, "resolve_case_id", no_lookup)
    monkeypatch.setattr(engine, "fire", no_lookup)
    with pytest.raises(Usage) as refused:
        engine.bulk_fire("approve", cases=ids, actor="ed")
    assert "10,001 cases" in refused.value.message
    assert "at most 10,000" in refused.value.message
    monkeypatch.undo()
    assert engine.get(case_id).state == "review"
    assert len(engine.history(case_id)) == 2


def test_the_limit_itself_is_allowed_and_duplicates_do_not_count(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_CASES", 3)
    ids = [_in_review(engine) for _ in range(3)]
    assert engine.bulk_fire("approve", cases=[*ids, ids[0]], actor="ed").all_done
    with pytest.raises(Usage, match="4 cases"):
        engine.bulk_fire("cancel", cases=[*ids, MISSING], actor="ed")
    assert all(engine.get(i).state == "scheduled" for i in ids)


def test_a_key_makes_each_case_happen_once(engine: Any, mixed: dict[str, str]) -> None:
    ids = [mixed["ok1"], mixed["ok2"], mixed["draft"]]
    first = engine.bulk_fire("approve", cases=ids, actor="both", key="batch-1")
    assert [i.status for i in first.items] == ["done", "done", "refused"]
    lengths = _lengths(engine, ids[:2])
    again = engine.bulk_fire("approve", cases=ids, actor="both", key="batch-1")
    assert [i.outcome for i in again.items[:2]] == ["replayed", "replayed"]
    assert [i.state for i in again.items[:2]] == ["scheduled", "scheduled"]
    assert again.items[2].status == "refused"  # a refusal is not remembered: tried again
    assert _lengths(engine, ids[:2]) == lengths
    other = engine.bulk_fire("approve", cases=ids[:1], actor="both", key="batch-1", comment="x")
    assert other.items[0].status == "refused"  # the same key with other input
    assert "already used" in (other.items[0].message or "")
    assert _lengths(engine, ids[:2]) == lengths


def test_a_key_too_long_for_the_per_case_keys_is_refused(engine: Any) -> None:
    case_id = _in_review(engine)
    with pytest.raises(Usage, match="at most 167 characters"):
        engine.bulk_fire("approve", cases=[case_id], actor="ed", key="k" * 168)
    assert engine.get(case_id).state == "review"
    assert engine.bulk_fire("approve", cases=[case_id], actor="ed", key="k" * 167).all_done


def test_one_failing_case_does_not_stop_the_others(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [_in_review(engine) for _ in range(3)]
    real_fire = engine.fire

    def flaky(case_id: str, *args: Any, **kwargs: Any) -> Any:
        if case_id == ids[1]:
            raise RuntimeError("a bug")
        return real_fire(case_id, *args, **kwargs)

    monkeypatch.setattr(engine, "fire", flaky)
    result = engine.bulk_fire("approve", cases=ids, actor="ed")
    assert [i.status for i in result.items] == ["done", "failed", "done"]
    assert result.items[1].code == "error"
    assert result.items[1].message == "internal error: RuntimeError"
    assert result.counts["failed"] == 1
    assert engine.get(ids[2]).state == "scheduled"


def test_progress_is_reported_per_case(engine: Any) -> None:
    ids = [_in_review(engine) for _ in range(2)]
    seen: list[tuple[int, int]] = []
    engine.bulk_fire(
        "approve", cases=[*ids, MISSING], actor="ed", on_progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_a_stranger_is_refused_before_anything(engine: Any) -> None:
    case_id = _in_review(engine)
    with pytest.raises(NotPermitted, match="not in this project's team"):
        engine.bulk_fire("approve", cases=[case_id], actor="mallory")
    assert len(engine.history(case_id)) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give the cases"),
        ({"cases": []}, "no cases given"),
        ({"cases": [MISSING], "query": object()}, "not both"),
        ({"cases": [MISSING], "event": ""}, "event name"),
    ],
)
def test_bad_requests_are_usage_errors(engine: Any, kwargs: dict[str, Any], message: str) -> None:
    given = dict(kwargs)
    event = given.pop("event", "approve")
    with pytest.raises(Usage, match=message):
        engine.bulk_fire(event, actor="ed", **given)


def test_typed_text_is_parsed_per_case(engine: Any) -> None:
    ids = [_in_review(engine) for _ in range(2)]
    result = engine.bulk_fire("approve", cases=ids, actor="ed", text={"budget": "300"})
    assert result.all_done
    assert [engine.get(i).data["budget"] for i in ids] == ["300.00"] * 2  # money
    bad = engine.bulk_fire("cancel", cases=ids, actor="ed", text={"budget": "-1"})
    assert [i.status for i in bad.items] == ["invalid", "invalid"]
    assert all(engine.get(i).state == "scheduled" for i in ids)


def test_sql_metacharacters_and_chinese_are_data(engine: Any) -> None:
    ids = [_in_review(engine) for _ in range(2)]
    hostile = "审核通过'; DROP TABLE cases; --"
    title = '标题"); DELETE FROM history; --'
    result = engine.bulk_fire(
        "approve", cases=ids, actor="ed", comment=hostile, data={"title": title}
    )
    assert result.all_done
    for case_id in ids:
        assert engine.history(case_id)[-1].comment == hostile
        assert engine.get(case_id).data["title"] == title
    odd = engine.bulk_fire("批准'; DROP TABLE cases; --", cases=ids, actor="ed")
    assert [i.status for i in odd.items] == ["not_found", "not_found"]
    assert "批准'; DROP TABLE cases; --" in (odd.items[0].message or "")
    assert len(engine.cases()) == 2


# -- selection by a filter (the search) ---------------------------------------------------

SECRET = """\
workflow: secret
version: 1
roles: [editor, legal]
readers: [legal]
fields:
  title: {type: string}
states:
  open: {initial: true}
  done: {final: true}
transitions:
  - {event: close, from: open, to: done, roles: [editor, legal]}
"""


def test_a_filter_selects_the_cases(engine: Any) -> None:
    from opsflow.runners.bulk import search_query

    dear = [_in_review(engine, budget=50_000), _in_review(engine, budget=20_000)]
    cheap = _in_review(engine, budget=10)
    draft = engine.start("review", {"title": "t", "budget": 90_000}, actor="ann").id
    query = search_query(workflow="review", states=["review"], where="budget > 10000")
    assert bulk.selected_count(engine, query=query, actor="ed") == 2
    result = engine.bulk_fire("approve", query=query, actor="ed")
    assert sorted(i.case for i in result.items) == sorted(dear)
    assert result.all_done
    assert engine.get(cheap).state == "review"
    assert engine.get(draft).state == "draft"
    open_ones = engine.bulk_fire("cancel", query=search_query(open=True, q="t"), actor="ed")
    assert open_ones.total == 4
    assert engine.bulk_fire("cancel", query=search_query(open=True), actor="ed").total == 0


def test_a_filter_over_the_limit_is_refused_with_its_count(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsflow.runners.bulk import search_query

    monkeypatch.setattr(bulk, "MAX_CASES", 2)
    ids = [_in_review(engine) for _ in range(3)]
    with pytest.raises(Usage, match="the filter matches 3 cases; a bulk fire takes at most 2"):
        engine.bulk_fire("approve", query=search_query(workflow="review"), actor="ed")
    assert [engine.get(i).state for i in ids] == ["review"] * 3


def test_cases_the_actor_may_not_read_are_neither_selected_nor_fired(
    make_engine: Any, workflows_dir: Any
) -> None:
    from opsflow.runners.bulk import search_query

    (workflows_dir / "secret.yaml").write_text(SECRET, encoding="utf-8")
    engine = make_engine()
    hidden = engine.start("secret", {"title": "机密"}, actor="lou").id
    assert engine.bulk_fire("close", query=search_query(workflow="secret"), actor="ed").total == 0
    named = engine.bulk_fire("close", cases=[hidden, hidden[:8]], actor="ed")
    assert [(i.case, i.status) for i in named.items] == [(hidden, "not_found")]
    prefix = engine.bulk_fire("close", cases=[hidden[:8]], actor="ed")
    assert prefix.items[0].status == "not_found"
    assert hidden not in (prefix.items[0].message or "")  # no more than was asked
    assert engine.get(hidden).state == "open"
    assert engine.bulk_fire("close", query=search_query(workflow="secret"), actor="lou").all_done
