"""Deadlines counted on a business calendar are armed at their working-time due (both backends).

The office calendar works 09:00-12:00 and 13:30-18:30 (8 h), Monday to Friday, in Shanghai,
with China's official holidays: 2025's National Day runs October 1-8 and Saturday October 11
is a make-up workday. Every clock here is fixed: no test reads the real date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsflow.calendars import calendars_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = {
    "office": {
        "timezone": "Asia/Shanghai",
        "hours": {"mon-fri": "09:00-12:00 13:30-18:30"},
        "holidays": "CN",
    }
}
WORKFLOW = """\
workflow: legal
version: 1
calendar: office
roles: [author]
fields:
  severity: {type: enum, values: [sev1, sev2]}
  nags: {type: integer}
states:
  legal_review: {initial: true, sla: {within: 16h, fire: escalate}}
  triage: {sla: {within: {by: severity, sev1: 4h, else: 16h}, fire: escalate}}
  nagging: {timer: {after: 1d, fire: nag, repeat: 1d}}
  waiting: {timer: {after: 3d, fire: remind, calendar: none}}
  cooling: {timer: {after: 1d, fire: remind}}
  done: {final: true}
transitions:
  - {event: escalate, from: legal_review, to: done, roles: [system]}
  - {event: park, from: legal_review, to: waiting, roles: [author]}
  - {event: cool, from: legal_review, to: cooling, roles: [author]}
  - {event: remind, from: [waiting, cooling], to: done, roles: [system]}
  - {event: triage, from: legal_review, to: triage, roles: [author]}
  - {event: escalate, from: triage, to: done, roles: [system]}
  - {event: nag_daily, from: legal_review, to: nagging, roles: [author]}
  - {event: nag, from: nagging, roles: [system], do: [{set: {nags: "(nags or 0) + 1"}}]}
  - {event: stop, from: nagging, to: done, roles: [author]}
"""


def shanghai(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture
def engine_at(make_engine: Callable[..., Any], tmp_path: Path) -> Callable[[datetime], Any]:
    """An engine whose clock stands still at the given instant, with the office calendar."""
    folder = tmp_path / "legal-workflows"
    folder.mkdir()
    (folder / "legal.yaml").write_text(WORKFLOW, encoding="utf-8")
    problems: list[str] = []
    calendars = calendars_of(OFFICE, problems)
    assert problems == []

    def make(now: datetime) -> Any:
        office = {"calendars": calendars, "actor": "ann"}
        return make_engine(workflows=folder, clock=lambda: now, settings=office)

    return make


def due_of(engine: Any, case_id: str) -> datetime:
    (deadline,) = [d for d in engine.status(case_id).deadlines if d.status == "pending"]
    return deadline.due_at  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("armed", "due"),
    [
        # Friday 17:00: 1.5 h on Friday, 8 h on Monday, 6.5 h on Tuesday
        ((2025, 9, 12, 17, 0), (2025, 9, 16, 17, 0)),
        # Tuesday before National Day: 1.5 h, then Oct 1-8 off, 8 h Thursday, 6.5 h Friday
        ((2025, 9, 30, 17, 0), (2025, 10, 10, 17, 0)),
        # Thursday after it: 1.5 h, 8 h Friday, 6.5 h on the make-up Saturday
        ((2025, 10, 9, 17, 0), (2025, 10, 11, 17, 0)),
        # a Saturday off counts from Monday's opening; two whole days end at a closing time
        ((2025, 9, 13, 10, 0), (2025, 9, 16, 18, 30)),
    ],
)
def test_a_16h_sla_is_due_after_16_working_hours(
    engine_at: Callable[[datetime], Any], armed: tuple[int, ...], due: tuple[int, ...]
) -> None:
    engine = engine_at(shanghai(*armed))
    case = engine.start("legal", {}, actor="ann")
    assert due_of(engine, case.id) == shanghai(*due)


def test_the_engine_fires_it_only_once_it_is_due(engine_at: Callable[[datetime], Any]) -> None:
    case = engine_at(shanghai(2025, 9, 30, 17, 0)).start("legal", {}, actor="ann")
    assert engine_at(shanghai(2025, 10, 10, 16, 59)).run_due().deadlines_fired == 0
    later = engine_at(shanghai(2025, 10, 10, 17, 0))
    assert later.run_due().deadlines_fired == 1
    assert later.status(case.id).state == "done"


def test_calendar_none_counts_wall_clock_days(engine_at: Callable[[datetime], Any]) -> None:
    now = shanghai(2025, 9, 30, 17, 0)
    engine = engine_at(now)
    case = engine.start("legal", {}, actor="ann")
    engine.fire(case.id, "park", actor="ann")
    assert due_of(engine, case.id) == now + timedelta(days=3)  # across the holidays


def test_the_workflow_calendar_applies_to_every_timer(engine_at: Callable[[datetime], Any]) -> None:
    engine = engine_at(shanghai(2025, 9, 30, 17, 0))
    case = engine.start("legal", {}, actor="ann")
    engine.fire(case.id, "cool", actor="ann")
    # one working day after Tuesday 17:00 is the next working day at 17:00: Thursday Oct 9
    assert due_of(engine, case.id) == shanghai(2025, 10, 9, 17, 0)


def test_validate_warns_of_years_without_official_data(
    engine_at: Callable[[datetime], Any],
) -> None:
    # years far ahead of any published schedule, by the engine's clock, not the machine's
    found = engine_at(datetime(2091, 3, 2, tzinfo=UTC)).validate()
    assert [d.severity for d in found] == ["warning"]
    assert "calendar 'office' has no official holiday data for 2091, 2092" in found[0].message


@pytest.mark.parametrize(
    ("severity", "due"),
    [
        # Tuesday before National Day 17:00: 1.5 h that day, 2.5 h on Thursday October 9
        ("sev1", (2025, 10, 9, 11, 30)),
        # 16 working hours: 1.5 h, then Thursday's 8 h and 6.5 h of Friday
        ("sev2", (2025, 10, 10, 17, 0)),
    ],
)
def test_an_sla_by_severity_counts_each_duration_on_the_calendar(
    engine_at: Callable[[datetime], Any], severity: str, due: tuple[int, ...]
) -> None:
    engine = engine_at(shanghai(2025, 9, 30, 17, 0))
    case = engine.start("legal", {"severity": severity}, actor="ann")
    engine.fire(case.id, "triage", actor="ann")
    assert due_of(engine, case.id) == shanghai(*due)


def test_a_changed_severity_is_counted_again_on_the_calendar(
    engine_at: Callable[[datetime], Any],
) -> None:
    case = engine_at(shanghai(2025, 9, 30, 17, 0)).start("legal", {"severity": "sev2"}, actor="ann")
    engine_at(shanghai(2025, 9, 30, 17, 0)).fire(case.id, "triage", actor="ann")
    later = engine_at(shanghai(2025, 10, 9, 9, 30))
    later.set(case.id, {"severity": "sev1"}, actor="ann")
    assert due_of(later, case.id) == shanghai(2025, 10, 9, 11, 30)  # from the entry, not now


def test_a_daily_reminder_on_the_calendar_skips_the_holidays(
    engine_at: Callable[[datetime], Any],
) -> None:
    case = engine_at(shanghai(2025, 9, 29, 10, 0)).start("legal", {}, actor="ann")
    engine_at(shanghai(2025, 9, 29, 10, 0)).fire(case.id, "nag_daily", actor="ann")
    fired = []
    for moment in [(2025, 9, 30, 10, 0), (2025, 10, 9, 10, 0), (2025, 10, 10, 10, 0)]:
        engine = engine_at(shanghai(*moment))
        assert engine.run_due().deadlines_fired == 1
        fired.append((engine.status(case.id).data["nags"], due_of(engine, case.id)))
    # the next working day at the same working-clock moment: after Sep 30, October 9
    assert fired == [
        (1, shanghai(2025, 10, 9, 10, 0)),
        (2, shanghai(2025, 10, 10, 10, 0)),
        (3, shanghai(2025, 10, 11, 10, 0)),
    ]
    assert due_of(engine, case.id) == shanghai(2025, 10, 11, 10, 0)  # the make-up Saturday
