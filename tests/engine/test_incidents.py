"""No silent failure of automation: incidents, retried with backoff, then open (both backends).

A timer whose event is refused, a compute action whose source file is missing, an
automatic transition that fails, a schedule tick that cannot start its case: each is
kept with its error, retried by the worker with growing pauses, and after the last try
stays open until a person retries (after fixing the cause) or resolves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.incidents import FIRST_RETRY, MAX_ATTEMPTS
from opsflow.errors import NotFound, NotPermitted, Refused

KPI = """\
workflow: kpi
version: 1
roles: [analyst]
fields:
  title: {type: string, required: true}
  ready: {type: boolean, default: false}
  target: {type: integer}
states:
  collecting:
    initial: true
    timer: {after: 1d, fire: measure}
  measured:
    on_enter: [{compute: [events]}]
  met: {}
  done: {final: true}
transitions:
  - {event: measure, from: collecting, to: measured, roles: [system], when: "ready"}
  - {event: hit, from: measured, to: met, auto: true, when: "metrics.events >= target"}
  - {event: close, from: [measured, met], to: done, roles: [analyst]}
  - {event: skip, from: collecting, to: measured, roles: [analyst]}
metrics:
  events:
    calculator: count
    params: {source: app_events}
"""

CYCLE = """\
workflow: cycle
version: 1
fields:
  period: {type: string, required: true, pattern: "^[0-9]{4}-[0-9]{2}$"}
states:
  open: {initial: true}
  closed: {final: true}
transitions:
  - {event: close, from: open, to: closed}
schedule:
  cron: "0 9 1 * *"
  timezone: UTC
  data: {period: "{{ tick_date }}"}
"""


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    return tmp_path / "events.csv"  # missing until a test writes it


@pytest.fixture
def engine(make_engine: Any, workflows_dir: Path, events_file: Path) -> Any:
    (workflows_dir / "kpi.yaml").write_text(KPI, encoding="utf-8")
    made = make_engine(team={"ann": ["analyst"], "ed": ["analyst"]})
    made.settings.sources = {"app_events": {"path": str(events_file)}}
    return made


def _write_events(path: Path, n: int) -> None:
    rows = "".join(f"u{i},open,2026-01-01T00:00:00Z\n" for i in range(n))
    path.write_text("user_id,event,timestamp\n" + rows, encoding="utf-8")


def _deadline(engine: Any, case_id: str) -> Any:
    from sqlalchemy import select

    from opsflow.store import tables as t

    with engine.db.read() as conn:
        return conn.execute(select(t.deadlines).where(t.deadlines.c.case_id == case_id)).one()


def test_a_refused_timer_is_retried_then_opens_an_incident(engine: Any, clock: Any) -> None:
    case = engine.start("kpi", {"title": "q1"}, actor="ann")
    clock.advance(days=1)
    report = engine.run_due()
    assert (report.deadlines_fired, report.deadlines_skipped) == (0, 1)
    assert report.incidents_opened == 0
    assert "when: 'ready' is false" in report.errors[0]
    (incident,) = engine.incidents()
    assert (incident.kind, incident.event, incident.status, incident.attempts) == (
        "timer",
        "measure",
        "retrying",
        1,
    )
    assert incident.next_attempt_at == clock.now + FIRST_RETRY
    assert _deadline(engine, case.id).status == "pending"  # kept, held back
    assert engine.run_due().deadlines_skipped == 0  # backing off: not tried again yet
    for _ in range(2, MAX_ATTEMPTS + 1):
        clock.advance(hours=12)
        report = engine.run_due()
        assert report.deadlines_skipped == 1
    assert report.incidents_opened == 1
    assert report.incidents_open == 1
    (incident,) = engine.incidents()
    assert (incident.status, incident.attempts, incident.next_attempt_at) == (
        "open",
        MAX_ATTEMPTS,
        None,
    )
    assert _deadline(engine, case.id).status == "failed"
    clock.advance(days=30)
    assert engine.run_due().deadlines_skipped == 0  # open: a person acts now
    status = engine.status(case.id)
    assert status.incidents == [incident]
    assert status.to_json()["incidents"][0]["status"] == "open"
    # the cause is fixed; a person retries: the timer's event fires as system
    engine.set(case.id, {"ready": True}, actor="ann")
    after, error = engine.retry_incident(incident.id, actor="ed")
    assert error is None
    assert (after.status, after.closed_by) == ("recovered", "ed")
    assert engine.get(case.id).state == "measured"
    # entering `measured` computes `events`, whose source file is missing: its own incident
    assert [(i.kind, i.target) for i in engine.incidents()] == [("compute", "events")]
    note = engine.history(case.id)[-1]  # who retried it is in the case's history
    assert (note.kind, note.actor, note.detail["action"]) == ("incident", "ed", "retried")
    assert any(h.kind == "timer" and h.actor == "system" for h in engine.history(case.id))


def test_a_failed_compute_keeps_the_persons_step_and_is_retried(
    engine: Any, clock: Any, events_file: Path
) -> None:
    case = engine.start("kpi", {"title": "q1", "target": 2}, actor="ann")
    moved = engine.fire(case.id, "skip", actor="ann")  # enters measured: compute fails
    assert moved.case.state == "measured"
    assert moved.case.metrics == {}
    (incident,) = engine.incidents(case_id=case.id)
    assert (incident.kind, incident.target, incident.status) == ("compute", "events", "retrying")
    assert "events.csv" in incident.error
    assert [h.kind for h in engine.history(case.id)] == ["start", "transition"]
    # a retry before the cause is fixed fails and backs off further
    clock.advance(minutes=1)
    report = engine.run_due()
    assert (report.automation_retried, report.automation_recovered) == (1, 0)
    (incident,) = engine.incidents()
    assert incident.attempts == 2
    _write_events(events_file, 3)
    clock.advance(minutes=2)
    report = engine.run_due()
    assert (report.automation_retried, report.automation_recovered) == (1, 1)
    done = engine.get(case.id)
    assert done.metrics == {"events": 3}
    assert done.state == "met"  # the automatic transition the metric enables ran after it
    assert engine.incidents() == []
    (closed,) = engine.incidents(everything=True)
    assert closed.status == "recovered"
    assert engine.audit_verify()[1] == []


def test_a_failing_automatic_transition_is_an_incident(
    make_engine: Any, workflows_dir: Path, clock: Any
) -> None:
    (workflows_dir / "auto.yaml").write_text(
        "workflow: auto\nversion: 1\n"
        "fields:\n  n: {type: integer, default: 0}\n  big: {type: integer, max: 10}\n"
        "states:\n  a: {initial: true}\n  b: {}\n  c: {final: true}\n"
        "transitions:\n"
        "  - {event: go, from: a, to: b, auto: true, when: 'n > 0', do: [{set: {big: 'n * 10'}}]}\n"
        "  - {event: end, from: [a, b], to: c}\n",
        encoding="utf-8",
    )
    engine = make_engine()
    case = engine.start("auto", {}, actor="ann")
    changed = engine.set(case.id, {"n": 5}, actor="ann")  # big = 50 > max: the step fails
    assert (changed.state, changed.data["n"]) == ("a", 5)  # the person's change is kept
    (incident,) = engine.incidents()
    assert (incident.kind, incident.target, incident.actor) == ("auto", "go", "system")
    assert "big" in incident.error
    engine.set(case.id, {"n": 1}, actor="ann")  # fixes it, and the step takes `go` now
    assert engine.get(case.id).state == "b"
    (closed,) = engine.incidents(everything=True)
    assert closed.status == "recovered"  # the automatic transition ran after all
    clock.advance(minutes=5)
    assert engine.run_due().automation_retried == 0


def test_resolve_is_audited_and_stops_the_retries(engine: Any, clock: Any) -> None:
    case = engine.start("kpi", {"title": "q1"}, actor="ann")
    clock.advance(days=1)
    engine.run_due()
    (incident,) = engine.incidents()
    with pytest.raises(Refused, match="comment is required"):
        engine.resolve_incident(incident.id, "  ", actor="ed")
    with pytest.raises(NotPermitted):
        engine.resolve_incident(incident.id, "x", actor="zed")
    before = engine.get(case.id)
    done = engine.resolve_incident(incident.id, "measured by hand", actor="ed")
    assert (done.status, done.closed_by, done.comment) == ("resolved", "ed", "measured by hand")
    entry = engine.history(case.id)[-1]
    assert (entry.kind, entry.actor) == ("incident", "ed")
    assert entry.detail["comment"] == "measured by hand"
    assert entry.detail["incident"] == incident.id
    after = engine.get(case.id)
    assert (after.state, after.row_version, after.updated_at) == (
        before.state,
        before.row_version,
        before.updated_at,
    )
    clock.advance(days=10)
    assert engine.run_due().deadlines_skipped == 0  # no more tries
    assert _deadline(engine, case.id).status == "failed"
    with pytest.raises(Refused, match="already resolved"):
        engine.resolve_incident(incident.id, "again", actor="ed")
    with pytest.raises(Refused, match="is resolved"):
        engine.retry_incident(incident.id, actor="ed")
    with pytest.raises(NotFound, match="no incident 999"):
        engine.retry_incident(999, actor="ed")
    assert engine.audit_verify()[1] == []


def test_a_schedule_tick_that_cannot_start_is_retried(
    make_engine: Any, workflows_dir: Path, clock: Any
) -> None:
    (workflows_dir / "cycle.yaml").write_text(CYCLE, encoding="utf-8")
    engine = make_engine()
    report = engine.run_due()
    assert report.cases_started == 0
    (incident,) = engine.incidents()
    assert (incident.kind, incident.workflow, incident.status) == ("schedule", "cycle", "retrying")
    assert "period" in incident.error
    (workflows_dir / "cycle.yaml").write_text(
        CYCLE.replace("{{ tick_date }}", "{{ tick_month }}").replace("version: 1", "version: 2"),
        encoding="utf-8",
    )
    fixed = make_engine()  # a worker started after the fix
    clock.advance(minutes=1)
    report = fixed.run_due()
    assert report.automation_recovered == 1
    (case,) = fixed.cases(workflow="cycle")
    assert case.data["period"] == incident.tick.strftime("%Y-%m")
    assert fixed.run_due().cases_started == 0  # the tick started once


def test_a_timer_whose_metric_source_is_missing_says_so(engine: Any, clock: Any) -> None:
    case = engine.start("kpi", {"title": "q1", "ready": True}, actor="ann")
    clock.advance(days=1)
    report = engine.run_due()
    assert report.deadlines_fired == 1  # the timer's own move is done...
    assert engine.get(case.id).state == "measured"
    (error,) = report.errors  # ...and the computation it set off is reported, not dropped
    assert error.startswith(f"case {case.id[:8]}: compute events: ")
    assert error.endswith("(retrying)")
    (incident,) = engine.incidents(case_id=case.id)
    assert (incident.kind, incident.status) == ("compute", "retrying")


@pytest.mark.parametrize("tries", [1, MAX_ATTEMPTS])
def test_leaving_the_state_cancels_a_failed_deadlines_incident(
    engine: Any, clock: Any, tries: int
) -> None:
    case = engine.start("kpi", {"title": "q1"}, actor="ann")
    clock.advance(days=1)
    for _ in range(tries):
        engine.run_due()
        clock.advance(hours=12)
    (incident,) = engine.incidents()
    assert incident.status == ("retrying" if tries == 1 else "open")
    engine.fire(case.id, "skip", actor="ann")  # done by hand: the timer is moot now
    (closed,) = [i for i in engine.incidents(everything=True) if i.kind == "timer"]
    assert closed.status == "cancelled"
