"""Due deadlines (timers and SLAs) fired as ``system``, one unit of work each (SPEC §6).

A deadline is claimed and fired in ONE transaction: the deadline row, the case, its
history and its outbox rows commit together or not at all, so a worker killed at any point
leaves nothing half done and the deadline is simply still pending for the next worker.
PostgreSQL claims with ``SELECT … FOR UPDATE OF deadlines, cases SKIP LOCKED`` (workers
never wait on each other's rows, and never on a case someone is firing on); SQLite's
``BEGIN IMMEDIATE`` already lets one writer in at a time. ``claimed_by`` records who fired
a deadline; ``lease_until`` holds back a deadline whose firing failed (a plugin bug, say),
so it is retried with backoff instead of blocking the queue.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import or_, select, update

from opsflow.core.decide import SYSTEM
from opsflow.core.results import WorkerReport
from opsflow.core.step import Step, failure_text
from opsflow.engine import CaseEngine, arming, incidents, persist, unit
from opsflow.engine.unit import CaseTransaction, UnitOfWork
from opsflow.errors import Busy, ConfigError, Conflict, Damaged
from opsflow.runners.items import (
    Stop,
    log_hook_error,
    log_item,
    never,
    report_step_failures,
    worker_id,
)
from opsflow.store import tables
from opsflow.store.rows import readable_rows

UNREADABLE_PER_CLAIM = 20  # damaged deadline rows set aside before a claim gives up
# Deadline steps one case may take in one pass: a workflow whose timer keeps arming itself
# due again cannot hold the pass (and the outbox after it) for ever; the rest wait.
MAX_STEPS_PER_CASE = 10

DeadlineResult = Literal["fired", "cancelled", "retry", "open"]


@dataclass(frozen=True)
class DeadlineOutcome:
    """What became of one claimed deadline, and the committed step when it fired."""

    deadline: Any  # the deadlines row as claimed
    result: DeadlineResult
    detail: str | None = None
    step: Step | None = None


def fire_due_deadlines(
    engine: CaseEngine, limit: int | None = None, stop: Stop | None = None
) -> WorkerReport:
    """Fire due deadlines one transaction each, only if the case is still in that visit.

    A case takes at most ``MAX_STEPS_PER_CASE`` steps per call; its later ones wait.
    """
    report = WorkerReport()
    stopped = stop or never
    steps: Counter[str] = Counter()
    while limit is None or report.deadlines_fired + report.deadlines_skipped < limit:
        if stopped():
            break
        full = {case for case, n in steps.items() if n >= MAX_STEPS_PER_CASE}
        outcome = fire_deadline(engine, skip=full)
        if outcome is None:
            break
        deadline = outcome.deadline
        if outcome.result == "fired":
            report.deadlines_fired += 1
            report.automation_recovered += int(bool(deadline.attempts))
            report_step_failures(report, outcome.step)
            steps[deadline.case_id] += 1
            if steps[deadline.case_id] == MAX_STEPS_PER_CASE:
                _held_back(report, deadline.case_id)
        elif outcome.result in ("retry", "open"):
            report.deadlines_skipped += 1
            report.incidents_opened += int(outcome.result == "open")
            report.errors.append(
                f"deadline {deadline.id} ({deadline.event}) on {deadline.case_id[:8]}: "
                f"{outcome.detail}"
            )
        else:
            report.deadlines_skipped += 1
    return report


def _held_back(report: WorkerReport, case_id: str) -> None:
    detail = (
        f"{MAX_STEPS_PER_CASE} deadline steps in one pass (a timer that keeps arming itself?); "
        "its other due deadlines wait for the next pass"
    )
    report.errors.append(f"case {case_id[:8]}: {detail}")
    log_item("deadline", "held_back", logging.WARNING, case=case_id, detail=detail)


def fire_deadline(
    engine: CaseEngine, deadline_id: int | None = None, skip: Collection[str] = ()
) -> DeadlineOutcome | None:
    """Fire the next due deadline (or the one given), in its own unit of work.

    None when none is due. A failure rolls the step back and is kept: the deadline is
    retried with backoff and, after its last try, becomes an open incident. Deadlines of
    the cases in ``skip`` are left for later.
    """
    tries: UnitOfWork[DeadlineOutcome | None] = UnitOfWork(engine, on_hook_error=log_hook_error)
    try:
        outcome = tries.run(partial(_fire_one, deadline_id=deadline_id, skip=skip))
    except (Busy, ConfigError, Conflict):  # the database, not the automation: report it
        raise
    except Exception as exc:  # the step failed: a refusal, a calculator, a plugin
        deadline = tries.claimed
        if deadline is None:
            raise
        message = engine.settings.redact(failure_text(exc))
        status = _record_failure(engine, deadline, message)
        level = logging.ERROR if status == "open" else logging.WARNING
        log_item(
            "deadline", status, level, case=deadline.case_id, event=deadline.event, detail=message
        )
        return DeadlineOutcome(deadline, status, message)
    if outcome is not None:
        deadline = outcome.deadline
        log_item(
            "deadline",
            outcome.result,
            case=deadline.case_id,
            event=deadline.event,
            detail=outcome.detail,
        )
    return outcome


def _claim(tx: CaseTransaction, deadline_id: int | None, skip: Collection[str]) -> Any:
    d, c = tables.deadlines, tables.cases
    if deadline_id is not None:  # a person retries this one: due or not, whatever its lease
        wanted = [d.c.status == "pending", d.c.id == deadline_id]
    else:
        wanted = [
            d.c.status == "pending",
            d.c.due_at <= tx.now,
            or_(d.c.lease_until.is_(None), d.c.lease_until <= tx.now),
        ]
        if skip:
            wanted.append(d.c.case_id.not_in(sorted(skip)))
    query = select(d).join(c, c.c.id == d.c.case_id).where(*wanted).order_by(d.c.due_at, d.c.id)
    query = query.limit(1)
    if tx.shop.db.row_locks:
        # Lock the case too and skip it when someone holds it: a worker that waited on a
        # case whose step cancels this very deadline would deadlock with that step.
        query = query.with_for_update(skip_locked=True, of=[d, c])
    for _ in range(UNREADABLE_PER_CLAIM):
        try:
            return tx.conn.execute(query).first()
        except (ValueError, TypeError):  # a damaged (hand-edited) row: set it aside, go on
            _set_aside_unreadable(tx, query)
    return None


def _set_aside_unreadable(tx: CaseTransaction, query: Any) -> None:
    """Mark the unreadable deadline rows ``query`` finds: kept for the audit, never fired."""
    _found, damaged = readable_rows(tx.conn, query)
    for raw, error in damaged:
        tx.conn.execute(
            update(tables.deadlines)
            .where(tables.deadlines.c.id == raw["id"])
            .values(status="unreadable", note=error.message[:500])
        )
        log_item(
            "deadline", "unreadable", logging.ERROR, case=raw.get("case_id"), detail=error.message
        )
    if not damaged:
        raise Damaged("a deadline row could not be read")


def _fire_one(
    tx: CaseTransaction, *, deadline_id: int | None, skip: Collection[str]
) -> DeadlineOutcome | None:
    deadline = tx.claimed = _claim(tx, deadline_id, skip)
    if deadline is None:
        return None
    case = tx.load(deadline.case_id)
    if case.closed or case.state != deadline.state or case.visit != deadline.visit:
        note = "state left before the deadline"
        _mark(tx, deadline, "cancelled", note)
        incidents.close_for_deadline(tx.conn, deadline.id, "cancelled", tx.now)
        return DeadlineOutcome(deadline, "cancelled", note)
    step = tx.step_on(tx.pinned(case), case)
    step.fire(deadline.event, step.actor(SYSTEM), kind="timer")  # a failure rolls back
    # First: leaving the state cancels the case's other pending deadlines and their failures.
    _mark(tx, deadline, "fired")
    if deadline.attempts:
        incidents.close_for_deadline(tx.conn, deadline.id, "recovered", tx.now)
    tx.flush(step)
    calendars = getattr(tx.shop.settings, "calendars", None)
    arming.arm_repeat(tx.conn, step.wf, step.case, deadline, tx.now, calendars)
    return DeadlineOutcome(deadline, "fired", step=step)


def _mark(tx: CaseTransaction, deadline: Any, status: str, note: str | None = None) -> None:
    tx.conn.execute(
        update(tables.deadlines)
        .where(tables.deadlines.c.id == deadline.id)
        .values(status=status, done_at=tx.now, note=note, claimed_by=worker_id(), lease_until=None)
    )


def _record_failure(engine: CaseEngine, deadline: Any, message: str) -> DeadlineResult:
    """Keep a deadline whose step failed: ``retry`` after a backoff, or ``open`` an incident.

    The deadline stays pending, held back until its next try; after the last try it is
    marked failed and its incident is open until a person retries or resolves it.
    """
    d = tables.deadlines

    def keep_failure(tx: CaseTransaction) -> DeadlineResult:
        attempts = tx.conn.execute(select(d.c.attempts).where(d.c.id == deadline.id)).scalar()
        attempts = int(attempts or 0) + 1
        values: dict[str, Any] = {"attempts": attempts, "note": message, "claimed_by": worker_id()}
        retry_at: datetime | None = incidents.next_attempt(tx.now, attempts)
        if retry_at is None:
            values.update(status="failed", done_at=tx.now, lease_until=None)
        else:
            values["lease_until"] = retry_at
        tx.conn.execute(
            update(d).where(d.c.id == deadline.id, d.c.status == "pending").values(values)
        )
        case = persist.load_case(tx.conn, deadline.case_id)
        status = incidents.deadline_failed(
            tx.conn, deadline, case.workflow, message, attempts, retry_at, tx.now
        )
        return "open" if status == "open" else "retry"

    return unit.transact(engine, keep_failure)
