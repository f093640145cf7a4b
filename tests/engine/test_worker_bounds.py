"""A worker pass always ends: an ``at:`` timer fires once per instant, a case gets a bounded
number of steps per pass, and the outbox always gets its turn."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from opsflow.store import tables as t

NAG = """\
workflow: nag
version: 1
fields:
  title: {type: string}
  remind_at: {type: datetime}
states:
  open: {initial: true, timer: {at: remind_at, fire: remind}}
  done: {final: true}
transitions:
  - event: remind
    from: open
    to: open
    roles: [system]
    do: [{notify: {channel: chat, to: ann, message: "reminder {{ title }}"}}]
  - {event: finish, from: open, to: done}
"""

PAST = "2026-01-01T09:00:00+00:00"  # four days before the test clock


@pytest.fixture
def nag_engine(make_engine: Any, workflows_dir: Path) -> Any:
    (workflows_dir / "nag.yaml").write_text(NAG, encoding="utf-8")
    return make_engine()


def _give_up_after(calls: int) -> Callable[[], bool]:
    """A stop request after ``calls`` polls: a pass that would never end fails, not hangs."""
    polls = iter(range(calls))
    return lambda: next(polls, None) is None


def _steps(engine: Any, case_id: str) -> int:
    return sum(1 for e in engine.history(case_id) if e.kind == "timer")


def _outbox(engine: Any) -> Counter[tuple[str, str]]:
    with engine.db.read() as conn:
        rows = conn.execute(select(t.outbox.c.case_id, t.outbox.c.status)).all()
    return Counter((case_id, status) for case_id, status in rows)


def test_an_at_timer_in_the_past_fires_once_when_its_event_re_enters(nag_engine: Any) -> None:
    case = nag_engine.start("nag", {"title": "t", "remind_at": PAST}, actor="ann")
    report = nag_engine.fire_due_deadlines(stop=_give_up_after(50))
    assert report.deadlines_fired == 1
    assert _steps(nag_engine, case.id) == 1
    assert nag_engine.status(case.id).deadlines == []  # re-entered, not armed again
    assert _outbox(nag_engine) == Counter({(case.id, "pending"): 1})


def test_an_at_timer_arms_again_for_a_new_instant(nag_engine: Any, clock: Any) -> None:
    case = nag_engine.start("nag", {"title": "t", "remind_at": PAST}, actor="ann")
    nag_engine.fire_due_deadlines(stop=_give_up_after(50))
    nag_engine.set(case.id, {"remind_at": "2026-01-06T09:00:00+00:00"}, actor="ann")
    (pending,) = nag_engine.status(case.id).deadlines
    assert pending.event == "remind"
    clock.advance(days=2)
    assert nag_engine.fire_due_deadlines(stop=_give_up_after(50)).deadlines_fired == 1
    assert _steps(nag_engine, case.id) == 2
    # the instant it fired for before is not armed again either
    nag_engine.set(case.id, {"remind_at": PAST}, actor="ann")
    assert nag_engine.status(case.id).deadlines == []


def test_a_case_that_re_arms_for_ever_gets_a_bounded_share_of_a_pass(
    nag_engine: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that arms a due deadline every time (a workflow bug): the pass still ends."""
    from opsflow.engine import persist
    from opsflow.runners.deadlines import MAX_STEPS_PER_CASE

    looping = nag_engine.start("nag", {"title": "loop", "remind_at": PAST}, actor="ann")
    other = nag_engine.start("nag", {"title": "other", "remind_at": PAST}, actor="ann")
    real = persist.flush

    def re_arming(conn: Any, wf: Any, case: Any, *args: Any, **kwargs: Any) -> Any:
        entries = real(conn, wf, case, *args, **kwargs)
        if case.id == looping.id:
            row = {"case_id": case.id, "state": case.state, "visit": case.visit}
            row.update(event="remind", kind="timer", due_at=clock(), status="pending")
            conn.execute(insert(t.deadlines), [row])
        return entries

    monkeypatch.setattr(persist, "flush", re_arming)
    report = nag_engine.run_due(stop=_give_up_after(500))
    assert _steps(nag_engine, looping.id) == MAX_STEPS_PER_CASE
    assert _steps(nag_engine, other.id) == 1
    assert report.delivered == MAX_STEPS_PER_CASE + 1  # the outbox got its turn
    assert _outbox(nag_engine)[(other.id, "delivered")] == 1
    assert any("next pass" in error for error in report.errors)
    nag_engine.run_due(stop=_give_up_after(500))  # the next pass goes on with it
    assert _steps(nag_engine, looping.id) == 2 * MAX_STEPS_PER_CASE
