"""Retrying failed automation: the worker's due retries, and a person's retry or resolve.

Each try is one transaction: the automation runs again on the case as it is now, and
either commits with the incident marked ``recovered``, or rolls back and counts a failed
try (``incidents.failed_again``). A deadline's incident is retried through its deadline
(``worker.fire_deadline``), a schedule tick's by starting its case again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from opsflow.core.results import Incident, WorkerReport
from opsflow.core.step import failure_text
from opsflow.engine import incidents, persist
from opsflow.errors import (
    AutomationFailed,
    Busy,
    ConfigError,
    Conflict,
    IncidentClosed,
    NotFound,
    Refused,
)
from opsflow.runners.schedules import restart_tick
from opsflow.runners.worker import (
    fire_deadline,
    log_item,
    observe_committed,
    report_step_failures,
    worker_id,
)
from opsflow.store import tables as t

if TYPE_CHECKING:
    from opsflow.engine.engine import Engine


def retry_due(engine: Engine, stop: Callable[[], bool] | None = None) -> WorkerReport:
    """Retry every incident whose next try is due, one transaction each."""
    report = WorkerReport()
    me = worker_id()
    while stop is None or not stop():
        outcome = _attempt(engine, me)
        if outcome is None:
            break
        incident, result, detail, step = outcome
        report.automation_retried += 1
        report.automation_recovered += int(result == "recovered")
        report.incidents_opened += int(result == "open")
        report_step_failures(report, step)
        if result in ("retry", "open"):
            report.errors.append(f"incident {incident.id} ({incident.describe()}): {detail}")
    return report


def retry(engine: Engine, incident_id: int, actor: str) -> tuple[Incident, str | None]:
    """A person's retry, now: the incident as it ends up, and the error if it failed again."""
    with engine.db.read() as conn:
        row = incidents.row_of(conn, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    found = incidents.view(row)
    if not found.unresolved:
        raise IncidentClosed(incident_id, found.status)
    if found.kind in ("timer", "sla"):
        error = _retry_deadline(engine, row, actor)
    else:
        outcome = _attempt(engine, worker_id(), incident_id=incident_id, by=actor)
        error = outcome[2] if outcome is not None and outcome[1] in ("retry", "open") else None
    return get(engine, incident_id), error


def resolve(engine: Engine, incident_id: int, actor: str, comment: str) -> Incident:
    """Close an incident by hand, with a comment: audited on the case and in the incident."""
    if not comment.strip():
        raise Refused("a comment is required to resolve an incident (--comment TEXT)")

    def work(conn: Connection) -> None:
        row = incidents.row_of(conn, incident_id, lock=engine.db.row_locks)
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        found = incidents.view(row)
        if not found.unresolved:
            raise Refused(f"incident {incident_id} is already {found.status}")
        now = engine.clock()
        if row.deadline_id is not None:  # stop retrying it
            d = t.deadlines
            conn.execute(
                update(d)
                .where(d.c.id == row.deadline_id, d.c.status == "pending")
                .values(status="failed", done_at=now, lease_until=None, note=f"resolved: {comment}")
            )
        incidents.close(conn, incident_id, "resolved", now, by=actor, comment=comment)
        if found.case_id is not None:
            _note(engine, conn, found, actor, {"action": "resolved", "comment": comment})

    engine._retrying(work)
    return get(engine, incident_id)


def get(engine: Engine, incident_id: int) -> Incident:
    with engine.db.read() as conn:
        row = incidents.row_of(conn, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return incidents.view(row)


def _note(
    engine: Engine, conn: Connection, found: Incident, actor: str, detail: dict[str, Any]
) -> None:
    """An ``incident`` entry in the case's history; the case itself does not change."""
    assert found.case_id is not None
    note = {"incident": found.id, "what": found.describe(), **detail}
    engine.write_note(conn, found.case_id, lambda step: step.record_note("incident", actor, note))


def _retry_deadline(engine: Engine, row: Any, actor: str) -> str | None:
    """Arm a failed deadline again and fire it now; the error when it fails again."""
    d = t.deadlines

    def rearm(conn: Connection) -> None:
        current = incidents.row_of(conn, row.id, lock=engine.db.row_locks)
        if current is None or current.status not in incidents.UNRESOLVED:
            status = current.status if current is not None else "gone"
            raise IncidentClosed(row.id, status)
        conn.execute(
            update(d)
            .where(d.c.id == row.deadline_id, d.c.status.in_(("pending", "failed")))
            .values(status="pending", lease_until=None, done_at=None)
        )

    engine._retrying(rearm)
    outcome = fire_deadline(engine, worker_id(), {}, deadline_id=row.deadline_id)
    if outcome is None:  # the deadline is gone (its visit ended): nothing left to do
        with engine.db.write() as conn:
            incidents.close(conn, row.id, "cancelled", engine.clock(), by=actor)
        return None
    result, detail = outcome
    if result == "fired":

        def audit(conn: Connection) -> None:
            conn.execute(
                update(t.incidents).where(t.incidents.c.id == row.id).values(closed_by=actor)
            )
            _note(engine, conn, incidents.view(row), actor, {"action": "retried"})

        engine._retrying(audit)
        return None
    return detail if result in ("retry", "open") else None


def _attempt(
    engine: Engine, me: str, incident_id: int | None = None, by: str | None = None
) -> tuple[Incident, str, str | None, Any] | None:
    """One try of a due incident (or of ``incident_id``): incident, outcome, error, step."""
    held: dict[str, Any] = {}
    try:
        result = engine._retrying(partial(_try, engine, held=held, incident_id=incident_id, by=by))
    except (Busy, ConfigError, Conflict):  # the database, not the automation: report it
        raise
    except Exception as exc:  # it failed again: count the try, in a transaction of its own
        if "incident" not in held or isinstance(exc, IncidentClosed):
            raise
        found: Incident = held["incident"]
        message = engine.settings.redact(failure_text(exc))
        with engine.db.write() as conn:
            status = incidents.failed_again(conn, found.id, message, engine.clock())
        level = logging.ERROR if status == "open" else logging.WARNING
        log_item("incident", status, level, case=found.case_id, detail=message)
        return found, status, message, None
    if result is None:
        return None
    found = held["incident"]
    if "step" in held:
        observe_committed(engine, held["step"])
    log_item("incident", result, case=found.case_id, event=found.event, detail=found.describe())
    return found, result, None, held.get("step")


def _try(
    engine: Engine,
    conn: Connection,
    *,
    held: dict[str, Any],
    incident_id: int | None,
    by: str | None,
) -> str | None:
    now = engine.clock()
    held.pop("step", None)
    held.pop("incident", None)  # a failure before the claim is no incident's
    if incident_id is None:
        row = incidents.claim_due(conn, now, skip_locked=engine.db.row_locks)
    else:
        row = incidents.row_of(conn, incident_id, lock=engine.db.row_locks)
    if row is None:
        return None
    if row.status not in incidents.UNRESOLVED:  # closed while we waited for its lock
        raise IncidentClosed(row.id, row.status)
    found = held["incident"] = incidents.view(row)
    if found.kind == "schedule":
        assert found.tick is not None
        held["step"] = restart_tick(engine, conn, found.workflow, found.tick, now)
        incidents.close(conn, found.id, "recovered", now, by=by)
        return "recovered"
    assert found.case_id is not None
    case = persist.load_case(conn, found.case_id, lock=engine.db.row_locks)
    if case.state != row.state or case.visit != row.visit:
        incidents.close(conn, found.id, "cancelled", now, by=by)
        return "cancelled"
    expected = case.row_version
    step = engine._step_for(conn, case, now)
    actor = step.actor(found.actor)
    if found.kind == "fire":
        step.follow_up(found.target, actor)
    elif found.kind == "compute":
        names = list(row.detail.get("metrics") or found.target.split(","))
        step.automation(
            "compute", found.target, partial(step.compute, names, actor), actor, metrics=names
        )
    elif found.kind == "rule":
        step.run_rule(found.target, actor)
    step.settle()  # an automatic transition is retried here, like any other step's
    key = f"{found.kind}:{found.target}"
    error = step.failed.get(key)
    if error is not None:
        raise AutomationFailed(error)
    # An automatic transition whose condition no longer holds has nothing left to do.
    outcome = "recovered" if key in step.writes.done else "cancelled"
    if by is not None:
        step.record_note("incident", by, {"incident": found.id, "action": "retried"})
    persist.flush(
        conn, step.wf, step.case, step.writes, new=False, expected_version=expected, now=now
    )
    incidents.close(conn, found.id, outcome, now, by=by)
    held["step"] = step
    return outcome
