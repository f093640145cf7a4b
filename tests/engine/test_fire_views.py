"""The case a fire returns: its events are those right after the fire, however late they
are read, and a dry run's view is the case as stored (events computed on first access)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

from opsflow.core import preview as views
from opsflow.engine import unit


def _eager_events(engine: Any, case_id: str, actor: str) -> list[Any]:
    """The events computed now, in a transaction of their own (the reference)."""
    return unit.read(engine, lambda tx: views.event_statuses(tx.open(case_id), actor))


def test_fire_result_events_are_those_right_after_the_fire(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    result = engine.fire(case.id, "submit", actor="ann")
    expected = _eager_events(engine, case.id, "ann")
    # The case moves on before the returned events are first read.
    engine.fire(case.id, "cancel", actor="ed")
    assert result.case.state == "review"
    assert result.case.events == expected
    assert any(e.event == "approve" for e in result.case.events)
    assert result.to_json()["case"]["events"] == [e.to_json() for e in expected]


def test_returned_case_is_independent_of_later_changes_to_it(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    result = engine.fire(case.id, "submit", actor="ann")
    result.case.data["title"] = ""  # the caller's copy: the events were decided on "t"
    assert result.case.events == _eager_events(engine, case.id, "ann")


def test_returned_case_pickles_and_copies_with_its_events(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    result = engine.fire(case.id, "submit", actor="ann")
    again = pickle.loads(pickle.dumps(result.case))
    assert again == result.case
    assert copy.deepcopy(result.case).events == result.case.events


def test_dry_run_view_is_the_stored_case_not_the_probe(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    before = engine.status(case.id, actor="ed")
    result = engine.fire(case.id, "approve", actor="ed", data={"claims": True}, dry_run=True)
    assert result.would is not None
    assert result.would["to"] == "legal"
    assert result.case.data == before.data  # the event data is the probe's only
    assert result.case.events == before.events
    assert engine.get(case.id).data == before.data


def test_status_of_an_approval_state_reads_approvals_in_its_transaction(engine: Any) -> None:
    case = engine.start("review", {"title": "t", "claims": True}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")  # one of two approvals
    status = engine.status(case.id, actor="lou")
    approve = next(e for e in status.events if e.event == "approve")
    assert not approve.allowed
    assert any("already approved" in r for r in approve.reasons)
