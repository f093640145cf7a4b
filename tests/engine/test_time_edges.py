"""A clock at the end of time arms deadlines without overflowing (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def test_an_sla_armed_at_the_end_of_time_is_held_there(make_engine: Any) -> None:
    from opsflow.clock import END_OF_TIME

    end = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)
    engine = make_engine(clock=lambda: end)
    case = engine.start("review", {"title": "late"}, actor="ann")
    moved = engine.fire(case.id, "submit", actor="ann")  # review: sla within 2d
    assert moved.case.state == "review"
    (deadline,) = engine.status(case.id).deadlines
    assert deadline.due_at == END_OF_TIME
    assert engine.run_due().deadlines_fired == 0
