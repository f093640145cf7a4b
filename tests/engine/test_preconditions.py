"""Writes with an expected row version (If-Match) and keyed data changes, in the engine."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.errors import KeyReused, PreconditionFailed, Refused


def trail(engine: Any, case_id: str) -> list[dict[str, Any]]:
    return [e.to_json() for e in engine.history(case_id)]


def test_a_fire_at_the_expected_version_runs(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    result = engine.fire(case.id, "submit", actor="ann", expected_version=case.row_version)
    assert result.case.state == "review"
    assert result.case.row_version == case.row_version + 1


def test_a_stale_fire_raises_and_writes_no_denied_entry(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.set(case.id, {"score": 1}, actor="ann")
    before = trail(engine, case.id), engine.get(case.id).to_json()
    # ed may not submit: without the version check this would be an audited refusal
    with pytest.raises(PreconditionFailed, match="at version 2, not 1") as stale:
        engine.fire(case.id, "submit", actor="ed", expected_version=1)
    assert (stale.value.exit_code, stale.value.http_status) == (6, 412)
    assert (trail(engine, case.id), engine.get(case.id).to_json()) == before


def test_a_stale_set_raises_and_writes_nothing(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    before = trail(engine, case.id), engine.get(case.id).to_json()
    with pytest.raises(PreconditionFailed):
        engine.set(case.id, {"score": 1}, actor="ann", expected_version=case.row_version + 1)
    assert (trail(engine, case.id), engine.get(case.id).to_json()) == before


def test_a_keyed_repeat_is_replayed_before_the_version_is_checked(engine: Any) -> None:
    """A repeat carries the If-Match of the first, which the first made stale."""
    case = engine.start("review", {"title": "t"}, actor="ann")
    first = engine.fire(case.id, "submit", actor="ann", key="f1", expected_version=1)
    again = engine.fire(case.id, "submit", actor="ann", key="f1", expected_version=1)
    assert (first.outcome, again.outcome) == ("transitioned", "replayed")
    engine.set(case.id, {"score": 2}, actor="ann", key="s1", expected_version=2)
    engine.set(case.id, {"score": 2}, actor="ann", key="s1", expected_version=2)
    assert [e["kind"] for e in trail(engine, case.id)] == ["start", "transition", "data"]


def test_a_keyed_set_happens_once_and_keeps_its_first_answer(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    first = engine.set(case.id, {"score": 5}, actor="ann", comment="c", key="k")
    engine.set(case.id, {"score": 6}, actor="ann")  # the case moves on
    again = engine.set(case.id, {"score": 5}, actor="ann", comment="c", key="k")
    assert again.data["score"] == 6  # the case as it is: the first change was not redone
    assert [e["kind"] for e in trail(engine, case.id)] == ["start", "data", "data"]
    kept = engine.keyed_response("k")
    assert kept["body"] == first.to_json()
    assert kept["etag"] == first.row_version


@pytest.mark.parametrize(
    "other",
    [
        {"data": {"score": 6}},
        {"data": {"score": 5}, "comment": "other"},
        {"data": {"score": 5}, "actor": "both"},
    ],
)
def test_a_set_key_reused_with_other_input_is_refused(engine: Any, other: dict[str, Any]) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.set(case.id, {"score": 5}, actor="ann", key="k")
    before = trail(engine, case.id)
    arguments = {"data": {"score": 5}, "actor": "ann"} | other
    with pytest.raises(KeyReused, match="different input") as reused:
        engine.set(case.id, key="k", **arguments)
    assert isinstance(reused.value, Refused)
    assert (reused.value.exit_code, reused.value.http_status) == (4, 422)
    assert trail(engine, case.id) == before


def test_a_fire_key_kept_answer_is_the_fire_json(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann", key="s")
    assert engine.keyed_response("s")["body"] == case.to_json()
    result = engine.fire(case.id, "submit", actor="ann", key="f")
    kept = engine.keyed_response("f")
    assert kept["body"] == result.to_json()
    assert kept["etag"] == result.case.row_version
    assert engine.keyed_response("never-used") is None


def test_history_pages(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    for score in range(4):
        engine.set(case.id, {"score": score}, actor="ann")
    assert [e.seq for e in engine.history(case.id)] == [1, 2, 3, 4, 5]
    assert [e.seq for e in engine.history(case.id, after_seq=2, limit=2)] == [3, 4]
    assert [e.seq for e in engine.history(case.id, after_seq=4)] == [5]
    assert engine.history(case.id, after_seq=5) == []
