"""Retrying failed automation: the worker's due retries, and a person's retry or resolve.

Each try is one transaction: the automation runs again on the case as it is now, and
either commits with the incident marked ``recovered``, or rolls back and counts a failed
try (``incidents.failed_again``). A deadline's incident is retried through its deadline
(``deadlines.fire_deadline``), a schedule tick's by starting its case again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from sqlalchemy import update

from opsflow.core.results import Incident, WorkerReport
from opsflow.core.step import Step, failure_text
from opsflow.engine import CaseEngine, incidents, unit
from opsflow.engine.unit import CaseTransaction, UnitOfWork
from opsflow.errors import (
    AutomationFailed,
    Busy,
    ConfigError,
    Conflict,
    IncidentClosed,
    NotFound,
    Refused,
)
from opsflow.runners.deadlines import fire_deadline
from opsflow.runners.items import log_hook_error, log_item, report_step_failures
from opsflow.runners.schedules import restart_tick
from opsflow.store import tables

RetryResult = Literal["recovered", "cancelled", "retry", "open"]


@dataclass(frozen=True)
class Attempt:
    """One try of an incident's automation: how it ended, the error, the committed step."""

    incident: Incident
    result: RetryResult
    error: str | None = None
    step: Step | None = None


def retry_due(engine: CaseEngine, stop: Callable[[], bool] | None = None) -> WorkerReport:
    """Retry every incident whose next try is due, one transaction each."""
    report = WorkerReport()
    while stop is None or not stop():
        attempt = _attempt(engine)
        if attempt is None:
            break
        report.automation_retried += 1
        report.automation_recovered += int(attempt.result == "recovered")
        report.incidents_opened += int(attempt.result == "open")
        report_step_failures(report, attempt.step)
        if attempt.result in ("retry", "open"):
            incident = attempt.incident
            report.errors.append(f"incident {incident.id} ({incident.describe()}): {attempt.error}")
    return report


def retry(engine: CaseEngine, incident_id: int, actor: str) -> tuple[Incident, str | None]:
    """A person's retry, now: the incident as it ends up, and the error if it failed again."""
    found = get(engine, incident_id)
    if not found.unresolved:
        raise IncidentClosed(incident_id, found.status)
    if found.kind in ("timer", "sla"):
        error = _retry_deadline(engine, found, actor)
    else:
        attempt = _attempt(engine, incident_id=incident_id, by=actor)
        failed = attempt is not None and attempt.result in ("retry", "open")
        error = attempt.error if failed and attempt is not None else None
    return get(engine, incident_id), error


def resolve(engine: CaseEngine, incident_id: int, actor: str, comment: str) -> Incident:
    """Close an incident by hand, with a comment: audited on the case and in the incident."""
    if not comment.strip():
        raise Refused("a comment is required to resolve an incident (--comment TEXT)")

    def close_by_hand(tx: CaseTransaction) -> None:
        row = incidents.row_of(tx.conn, incident_id, lock=tx.shop.db.row_locks)
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        found = incidents.view(row)
        if not found.unresolved:
            raise Refused(f"incident {incident_id} is already {found.status}")
        if row.deadline_id is not None:  # stop retrying it
            d = tables.deadlines
            tx.conn.execute(
                update(d)
                .where(d.c.id == row.deadline_id, d.c.status == "pending")
                .values(
                    status="failed", done_at=tx.now, lease_until=None, note=f"resolved: {comment}"
                )
            )
        incidents.close(tx.conn, incident_id, "resolved", tx.now, by=actor, comment=comment)
        if found.case_id is not None:
            _note(tx, found, actor, {"action": "resolved", "comment": comment})

    unit.transact(engine, close_by_hand)
    return get(engine, incident_id)


def get(engine: CaseEngine, incident_id: int) -> Incident:
    """An incident by its number (NotFound)."""
    with engine.db.read() as conn:
        row = incidents.row_of(conn, incident_id)
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return incidents.view(row)


def _note(tx: CaseTransaction, found: Incident, actor: str, detail: dict[str, Any]) -> None:
    """An ``incident`` entry in the case's history; the case itself does not change."""
    assert found.case_id is not None
    note = {"incident": found.id, "what": found.describe(), **detail}
    tx.note(found.case_id, lambda step: step.record_note("incident", actor, note))


def _retry_deadline(engine: CaseEngine, found: Incident, actor: str) -> str | None:
    """Arm a failed deadline again and fire it now; the error when it fails again."""
    d = tables.deadlines

    def rearm(tx: CaseTransaction) -> int:
        current = incidents.row_of(tx.conn, found.id, lock=tx.shop.db.row_locks)
        if current is None or current.status not in incidents.UNRESOLVED:
            status = current.status if current is not None else "gone"
            raise IncidentClosed(found.id, status)
        tx.conn.execute(
            update(d)
            .where(d.c.id == current.deadline_id, d.c.status.in_(("pending", "failed")))
            .values(status="pending", lease_until=None, done_at=None)
        )
        return int(current.deadline_id)

    deadline_id = unit.transact(engine, rearm)
    outcome = fire_deadline(engine, deadline_id=deadline_id)
    if outcome is None:  # the deadline is gone (its visit ended): nothing left to do

        def cancel(tx: CaseTransaction) -> None:
            incidents.close(tx.conn, found.id, "cancelled", tx.now, by=actor)

        unit.transact(engine, cancel)
        return None
    if outcome.result == "fired":

        def audit(tx: CaseTransaction) -> None:
            i = tables.incidents
            tx.conn.execute(update(i).where(i.c.id == found.id).values(closed_by=actor))
            _note(tx, found, actor, {"action": "retried"})

        unit.transact(engine, audit)
        return None
    return outcome.detail if outcome.result in ("retry", "open") else None


def _attempt(
    engine: CaseEngine, incident_id: int | None = None, by: str | None = None
) -> Attempt | None:
    """One try of a due incident (or of ``incident_id``), in its own unit of work."""
    tries: UnitOfWork[Attempt | None] = UnitOfWork(engine, on_hook_error=log_hook_error)
    try:
        attempt = tries.run(partial(_try, incident_id=incident_id, by=by))
    except (Busy, ConfigError, Conflict):  # the database, not the automation: report it
        raise
    except Exception as exc:  # it failed again: count the try, in a transaction of its own
        found: Incident | None = tries.claimed
        if found is None or isinstance(exc, IncidentClosed):
            raise
        message = engine.settings.redact(failure_text(exc))
        failed_id = found.id

        def count_failure(tx: CaseTransaction) -> str:
            return incidents.failed_again(tx.conn, failed_id, message, tx.now)

        status = unit.transact(engine, count_failure)
        level = logging.ERROR if status == "open" else logging.WARNING
        log_item("incident", status, level, case=found.case_id, detail=message)
        return Attempt(found, "open" if status == "open" else "retry", message)
    if attempt is not None:
        found = attempt.incident
        detail = found.describe()
        log_item("incident", attempt.result, case=found.case_id, event=found.event, detail=detail)
    return attempt


def _try(tx: CaseTransaction, *, incident_id: int | None, by: str | None) -> Attempt | None:
    if incident_id is None:
        row = incidents.claim_due(tx.conn, tx.now, skip_locked=tx.shop.db.row_locks)
    else:
        row = incidents.row_of(tx.conn, incident_id, lock=tx.shop.db.row_locks)
    if row is None:
        return None
    if row.status not in incidents.UNRESOLVED:  # closed while we waited for its lock
        raise IncidentClosed(row.id, row.status)
    found = tx.claimed = incidents.view(row)
    if found.kind == "schedule":
        assert found.tick is not None
        step = restart_tick(tx, found.workflow, found.tick)
        incidents.close(tx.conn, found.id, "recovered", tx.now, by=by)
        return Attempt(found, "recovered", step=step)
    assert found.case_id is not None
    case = tx.load(found.case_id)
    if case.state != row.state or case.visit != row.visit:
        incidents.close(tx.conn, found.id, "cancelled", tx.now, by=by)
        return Attempt(found, "cancelled")
    step = tx.step_on(tx.pinned(case), case)
    key = _run_again(step, found, row.detail)
    error = step.failed.get(key)
    if error is not None:
        raise AutomationFailed(error)
    # An automatic transition whose condition no longer holds has nothing left to do.
    outcome: RetryResult = "recovered" if key in step.writes.done else "cancelled"
    if by is not None:
        step.record_note("incident", by, {"incident": found.id, "action": "retried"})
    tx.flush(step)
    incidents.close(tx.conn, found.id, outcome, tx.now, by=by)
    return Attempt(found, outcome, step=step)


def _run_again(step: Step, found: Incident, detail: dict[str, Any] | None) -> str:
    """Run an incident's automation again on ``step``, then settle; its automation key."""
    actor = step.actor(found.actor)
    if found.kind == "fire":
        step.follow_up(found.target, actor)
    elif found.kind == "compute":
        names = list((detail or {}).get("metrics") or found.target.split(","))
        work = partial(step.compute, names, actor)
        step.automation("compute", found.target, work, actor, metrics=names)
    elif found.kind == "rule":
        step.run_rule(found.target, actor)
    step.settle()  # an automatic transition is retried here, like any other step's
    return f"{found.kind}:{found.target}"
