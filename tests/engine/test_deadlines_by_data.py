"""SLAs that depend on the case's data, and reminders that repeat (both backends).

An incident's SLA depends on its severity: 30 minutes for sev1, 4 hours for sev2, 2 days for
anything else. A reminder every hour is an internal transition, so it keeps the approvals
already given. Every clock here is a FakeClock: no test reads the real date.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.arming import MAX_FIRINGS_PER_VISIT

INCIDENT = (Path(__file__).parents[1] / "fixtures" / "engine" / "incident.yaml").read_text(
    encoding="utf-8"
)


@pytest.fixture
def engine(make_engine: Callable[..., Any], tmp_path: Path) -> Any:
    folder = tmp_path / "incident_workflows"
    folder.mkdir()
    (folder / "incident.yaml").write_text(INCIDENT, encoding="utf-8")
    return make_engine(workflows=folder)


def pending(engine: Any, case_id: str) -> list[tuple[str, datetime]]:
    return [(d.event, d.due_at) for d in engine.status(case_id).deadlines if d.status == "pending"]


@pytest.mark.parametrize(
    ("severity", "within"),
    [("sev1", timedelta(minutes=30)), ("sev2", timedelta(hours=4)), ("sev3", timedelta(days=2))],
)
def test_the_sla_takes_the_duration_of_the_field_value(
    engine: Any, clock: Any, severity: str, within: timedelta
) -> None:
    case = engine.start("incident", {"severity": severity}, actor="ed")
    assert pending(engine, case.id) == [("escalate", clock.now + within)]


def test_an_unset_field_takes_else(engine: Any, clock: Any) -> None:
    case = engine.start("incident", {}, actor="ed")
    assert pending(engine, case.id) == [("escalate", clock.now + timedelta(days=2))]


def test_changing_the_field_recomputes_the_running_sla_from_the_entry(
    engine: Any, clock: Any
) -> None:
    entered = clock.now
    case = engine.start("incident", {"severity": "sev3"}, actor="ed")
    clock.advance(minutes=10)
    engine.set(case.id, {"severity": "sev1"}, actor="ed")
    assert pending(engine, case.id) == [("escalate", entered + timedelta(minutes=30))]
    clock.advance(minutes=19)
    assert engine.run_due().deadlines_fired == 0
    clock.advance(minutes=1)
    assert engine.run_due().deadlines_fired == 1
    assert engine.status(case.id).state == "escalated"


def test_a_recomputed_sla_already_past_fires_at_the_next_pass(engine: Any, clock: Any) -> None:
    case = engine.start("incident", {"severity": "sev3"}, actor="ed")
    clock.advance(hours=1)
    engine.set(case.id, {"severity": "sev1"}, actor="ed")  # its 30 minutes are over
    assert engine.run_due().deadlines_fired == 1
    assert engine.status(case.id).state == "escalated"


def test_the_replaced_deadline_is_cancelled_and_says_why(engine: Any, clock: Any) -> None:
    from sqlalchemy import select

    from opsflow.store import tables

    case = engine.start("incident", {"severity": "sev3"}, actor="ed")
    engine.set(case.id, {"severity": "sev2"}, actor="ed")
    d = tables.deadlines.c
    with engine.db.engine.connect() as conn:
        rows = conn.execute(
            select(d.status, d.note, d.due_at).where(d.case_id == case.id).order_by(d.id)
        ).all()
    assert [(r.status, r.note) for r in rows] == [
        ("cancelled", "field 'severity' changed"),
        ("pending", None),
    ]
    assert rows[1].due_at == clock.now + timedelta(hours=4)


def test_a_change_of_another_field_leaves_the_sla(engine: Any, clock: Any) -> None:
    case = engine.start("incident", {"severity": "sev2"}, actor="ed")
    before = pending(engine, case.id)
    clock.advance(minutes=5)
    engine.set(case.id, {"title": "checkout down"}, actor="ed")
    assert pending(engine, case.id) == before


def test_a_reminder_repeats_every_hour_and_keeps_the_approvals(engine: Any, clock: Any) -> None:
    case = engine.start("incident", {"severity": "sev2"}, actor="ed")
    engine.fire(case.id, "take", actor="ed")
    engine.fire(case.id, "close", actor="ed")  # one of two approvals
    entered = clock.now
    for hour in (1, 2, 3):
        clock.advance(hours=1)
        assert engine.run_due().deadlines_fired == 1
        assert engine.status(case.id).data["reminders"] == hour
        assert pending(engine, case.id) == [("remind", entered + timedelta(hours=hour + 1))]
    engine.fire(case.id, "close", actor="lou")  # the first approval was kept
    assert engine.status(case.id).state == "closed"
    assert pending(engine, case.id) == []


def test_a_stopped_worker_does_not_burst_the_missed_reminders(engine: Any, clock: Any) -> None:
    case = engine.start("incident", {"severity": "sev2"}, actor="ed")
    engine.fire(case.id, "take", actor="ed")
    entered = clock.now
    clock.advance(hours=5, minutes=30)  # the worker was down for five reminders
    assert engine.run_due().deadlines_fired == 1
    assert engine.status(case.id).data["reminders"] == 1
    assert pending(engine, case.id) == [("remind", entered + timedelta(hours=6))]


def test_a_visit_fires_a_reminder_at_most_a_hundred_times(engine: Any, clock: Any) -> None:
    case = engine.start("incident", {"severity": "sev2"}, actor="ed")
    engine.fire(case.id, "take", actor="ed")
    for _ in range(MAX_FIRINGS_PER_VISIT + 3):
        clock.advance(hours=1)
        engine.run_due()
    assert engine.status(case.id).data["reminders"] == MAX_FIRINGS_PER_VISIT
    assert pending(engine, case.id) == []


def test_leaving_the_state_stops_the_reminder(engine: Any, clock: Any) -> None:
    case = engine.start("incident", {"severity": "sev2"}, actor="ed")
    engine.fire(case.id, "take", actor="ed")
    clock.advance(hours=1)
    engine.run_due()
    engine.fire(case.id, "close", actor="ed")
    engine.fire(case.id, "close", actor="lou")
    clock.advance(hours=3)
    assert engine.run_due().deadlines_fired == 0
    assert engine.status(case.id).data["reminders"] == 1


# -- through the CLI and the HTTP API ---------------------------------------------------------


def test_the_cli_shows_the_recomputed_sla(db_url: str, tmp_path: Path) -> None:
    from project_cli import run_cli

    folder = tmp_path / "cli_workflows"
    folder.mkdir()
    (folder / "incident.yaml").write_text(INCIDENT, encoding="utf-8")
    at = {"OPSFLOW_NOW": "2026-03-02T01:00:00Z", "OPSFLOW_ACTOR": "ed"}
    started = run_cli(
        db_url, folder, "start", "incident", "--set", "severity=sev3", "--json", env=at
    )
    assert started.exit_code == 0, started.output
    case_id = json.loads(started.output)["id"]
    later = {**at, "OPSFLOW_NOW": "2026-03-02T01:10:00Z"}
    changed = run_cli(db_url, folder, "set", case_id, "severity=sev1", env=later)
    assert changed.exit_code == 0, changed.output
    shown = run_cli(db_url, folder, "status", case_id, "--json", env=later)
    deadlines = json.loads(shown.output)["deadlines"]
    assert [(d["event"], d["due_at"], d["status"]) for d in deadlines] == [
        ("escalate", "2026-03-02T01:30:00+00:00", "pending")
    ]
    table = run_cli(db_url, folder, "show", "incident", env={**later, "COLUMNS": "200"})
    assert "sla by severity (sev1 30m, sev2 4h, else 2d) -> escalate" in table.output
    assert "timer 1h every 1h -> remind" in table.output


NAGGING = """\
workflow: nagging
version: 1
fields:
  due: {type: datetime}
  nags: {type: integer}
states:
  open:
    initial: true
    timer: {at: due, fire: nag, repeat: 1h}
  done: {final: true}
transitions:
  - {event: nag, from: open, roles: [system], do: [{set: {nags: "(nags or 0) + 1"}}]}
  - {event: finish, from: open, to: done}
"""


def test_moving_the_field_does_not_reopen_a_visits_spent_reminders(
    make_engine: Any, tmp_path: Path, clock: Any
) -> None:
    folder = tmp_path / "nag_workflows"
    folder.mkdir()
    (folder / "nagging.yaml").write_text(NAGGING, encoding="utf-8")
    engine = make_engine(workflows=folder)
    case = engine.start("nagging", {"due": clock.now.isoformat()}, actor="ed")
    for _ in range(MAX_FIRINGS_PER_VISIT):
        engine.run_due()
        clock.advance(hours=1)
    assert engine.status(case.id).data["nags"] == MAX_FIRINGS_PER_VISIT
    assert pending(engine, case.id) == []
    later = (clock.now + timedelta(days=1)).isoformat()
    engine.set(case.id, {"due": later}, actor="ed")
    assert pending(engine, case.id) == []  # the visit has had its 100
