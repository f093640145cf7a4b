"""The worker's pass: start due scheduled cases, fire due deadlines, deliver the outbox (SPEC §6).

Deadlines are claimed and fired in ONE transaction each: the deadline row, the case, its
history and its outbox rows commit together or not at all, so a worker killed at any point
leaves nothing half done and the deadline is simply still pending for the next worker.
PostgreSQL claims with ``SELECT … FOR UPDATE OF deadlines, cases SKIP LOCKED`` (workers
never wait on each other's rows, and never on a case someone is firing on); SQLite's
``BEGIN IMMEDIATE`` already lets one writer in at a time. ``claimed_by`` records who fired
a deadline; ``lease_until`` holds back a deadline whose firing failed unexpectedly (a
plugin bug, say) so it is retried with backoff instead of blocking the queue.

Every item a worker handles is logged on the ``opsflow.worker`` logger, one record each,
with the fields in ``record.opsflow`` (the CLI renders them as logfmt or JSON lines).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from opsflow.core.decide import SYSTEM
from opsflow.core.results import WorkerReport
from opsflow.core.step import failure_text
from opsflow.engine import incidents, persist
from opsflow.errors import Busy, ConfigError, Conflict, Damaged
from opsflow.store import tables as t
from opsflow.store.rows import readable_rows

if TYPE_CHECKING:
    from opsflow.engine.engine import Engine

LOG = logging.getLogger("opsflow.worker")
UNREADABLE_PER_CLAIM = 20  # damaged deadline rows set aside before a claim gives up
OUTBOX_BATCH = 20  # notifications per delivery call: a stop request is honoured between
# Deadline steps one case may take in one pass: a workflow whose timer keeps arming itself
# due again cannot hold the pass (and the outbox after it) for ever; the rest wait.
MAX_STEPS_PER_CASE = 10

Stop = Callable[[], bool]


def worker_id() -> str:
    """Who is working: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _never() -> bool:
    return False


@dataclass
class PassReport(WorkerReport):
    """What one worker pass did, scheduled cases included."""

    cases_started: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"cases_started": self.cases_started, **super().to_json()}

    def add(self, other: WorkerReport) -> None:
        """Add another report's counts and errors to this one (the open count is the latest)."""
        self.deadlines_fired += other.deadlines_fired
        self.deadlines_skipped += other.deadlines_skipped
        self.delivered += other.delivered
        self.failed += other.failed
        self.retried += other.retried
        self.incidents_opened += other.incidents_opened
        self.automation_retried += other.automation_retried
        self.automation_recovered += other.automation_recovered
        self.incidents_open = other.incidents_open
        self.cases_started += getattr(other, "cases_started", 0)
        self.errors.extend(other.errors)


def log_item(kind: str, outcome: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one item a worker handled: kind, outcome, case, event, workflow, detail."""
    record = {"worker": worker_id(), "kind": kind, "outcome": outcome}
    record.update({k: v for k, v in fields.items() if v is not None})
    LOG.log(level, "%s %s", kind, outcome, extra={"opsflow": record})


# -- deadlines ------------------------------------------------------------------------


def fire_due_deadlines(
    engine: Engine, limit: int | None = None, stop: Stop | None = None
) -> WorkerReport:
    """Fire due deadlines one transaction each, only if the case is still in that visit.

    A case takes at most ``MAX_STEPS_PER_CASE`` steps per call; its later ones wait.
    """
    report = WorkerReport()
    stopped = stop or _never
    me = worker_id()
    steps: Counter[str] = Counter()
    while limit is None or report.deadlines_fired + report.deadlines_skipped < limit:
        if stopped():
            break
        held: dict[str, Any] = {}
        full = {case for case, n in steps.items() if n >= MAX_STEPS_PER_CASE}
        outcome = fire_deadline(engine, me, held, skip=full)
        if outcome is None:
            break
        result, detail = outcome
        deadline = held["deadline"]
        if result == "fired":
            report.deadlines_fired += 1
            report.automation_recovered += int(bool(deadline.attempts))
            report_step_failures(report, held.get("step"))
            steps[deadline.case_id] += 1
            if steps[deadline.case_id] == MAX_STEPS_PER_CASE:
                _held_back(report, deadline.case_id)
        elif result in ("retry", "open"):
            report.deadlines_skipped += 1
            report.incidents_opened += int(result == "open")
            report.errors.append(
                f"deadline {deadline.id} ({deadline.event}) on {deadline.case_id[:8]}: {detail}"
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
    engine: Engine,
    me: str,
    held: dict[str, Any],
    deadline_id: int | None = None,
    skip: Collection[str] = (),
) -> tuple[str, str | None] | None:
    """Fire the next due deadline (or the one given), in its own transaction.

    Returns None when none is due, else the outcome (``fired``, ``cancelled``, or after a
    failure ``retry``/``open``) and its detail. A failure rolls the step back and is kept:
    the deadline is retried with backoff and, after its last try, becomes an open incident.
    Deadlines of the cases in ``skip`` are left for later.
    """
    try:
        outcome = engine._retrying(
            partial(_fire_one, engine, me=me, held=held, deadline_id=deadline_id, skip=skip)
        )
    except (Busy, ConfigError, Conflict):  # the database, not the automation: report it
        raise
    except Exception as exc:  # the step failed: a refusal, a calculator, a plugin
        if "deadline" not in held:
            raise
        deadline = held["deadline"]
        message = engine.settings.redact(failure_text(exc))
        status = _record_failure(engine, deadline, message, me)
        level = logging.ERROR if status == "open" else logging.WARNING
        log_item(
            "deadline", status, level, case=deadline.case_id, event=deadline.event, detail=message
        )
        return status, message
    if outcome is None:
        return None
    result, detail = outcome
    deadline = held["deadline"]
    if result == "fired" and "step" in held:
        observe_committed(engine, held["step"])
    log_item("deadline", result, case=deadline.case_id, event=deadline.event, detail=detail)
    return outcome


def _claim(
    engine: Engine, conn: Connection, now: datetime, deadline_id: int | None, skip: Collection[str]
) -> Any:
    d, c = t.deadlines, t.cases
    if deadline_id is not None:  # a person retries this one: due or not, whatever its lease
        wanted = [d.c.status == "pending", d.c.id == deadline_id]
    else:
        wanted = [
            d.c.status == "pending",
            d.c.due_at <= now,
            or_(d.c.lease_until.is_(None), d.c.lease_until <= now),
        ]
        if skip:
            wanted.append(d.c.case_id.not_in(sorted(skip)))
    query = select(d).join(c, c.c.id == d.c.case_id).where(*wanted).order_by(d.c.due_at, d.c.id)
    query = query.limit(1)
    if engine.db.row_locks:
        # Lock the case too and skip it when someone holds it: a worker that waited on a
        # case whose step cancels this very deadline would deadlock with that step.
        query = query.with_for_update(skip_locked=True, of=[d, c])
    for _ in range(UNREADABLE_PER_CLAIM):
        try:
            return conn.execute(query).first()
        except (ValueError, TypeError):  # a damaged (hand-edited) row: set it aside, go on
            _set_aside_unreadable(conn, query, now)
    return None


def _set_aside_unreadable(conn: Connection, query: Any, now: datetime) -> None:
    """Mark the unreadable deadline rows ``query`` finds: kept for the audit, never fired."""
    _found, damaged = readable_rows(conn, query)
    for raw, error in damaged:
        conn.execute(
            update(t.deadlines)
            .where(t.deadlines.c.id == raw["id"])
            .values(status="unreadable", note=error.message[:500])
        )
        log_item(
            "deadline", "unreadable", logging.ERROR, case=raw.get("case_id"), detail=error.message
        )
    if not damaged:
        raise Damaged("a deadline row could not be read")


def _fire_one(
    engine: Engine,
    conn: Connection,
    *,
    me: str,
    held: dict[str, Any],
    deadline_id: int | None = None,
    skip: Collection[str] = (),
) -> tuple[str, str | None] | None:
    now = engine.clock()
    held.pop("step", None)
    held.pop("deadline", None)  # a failure before the claim is no deadline's
    deadline = _claim(engine, conn, now, deadline_id, skip)
    if deadline is None:
        return None
    held["deadline"] = deadline
    case = persist.load_case(conn, deadline.case_id, lock=engine.db.row_locks)
    expected = case.row_version

    def mark(status: str, note: str | None = None) -> None:
        conn.execute(
            update(t.deadlines)
            .where(t.deadlines.c.id == deadline.id)
            .values(status=status, done_at=now, note=note, claimed_by=me, lease_until=None)
        )

    if case.closed or case.state != deadline.state or case.visit != deadline.visit:
        mark("cancelled", "state left before the deadline")
        incidents.close_for_deadline(conn, deadline.id, "cancelled", now)
        return "cancelled", "state left before the deadline"
    step = engine._step_for(conn, case, now)
    step.fire(deadline.event, step.actor(SYSTEM), kind="timer")  # a failure rolls back
    # First: leaving the state cancels the case's other pending deadlines and their failures.
    mark("fired")
    if deadline.attempts:
        incidents.close_for_deadline(conn, deadline.id, "recovered", now)
    persist.flush(
        conn, step.wf, step.case, step.writes, new=False, expected_version=expected, now=now
    )
    held["step"] = step
    return "fired", None


def _record_failure(engine: Engine, deadline: Any, message: str, me: str) -> str:
    """Keep a deadline whose step failed: ``retry`` after a backoff, or ``open`` an incident.

    The deadline stays pending, held back until its next try; after the last try it is
    marked failed and its incident is open until a person retries or resolves it.
    """
    now = engine.clock()
    d = t.deadlines

    def work(conn: Connection) -> str:
        attempts = conn.execute(select(d.c.attempts).where(d.c.id == deadline.id)).scalar()
        attempts = int(attempts or 0) + 1
        values: dict[str, Any] = {"attempts": attempts, "note": message, "claimed_by": me}
        retry_at = incidents.next_attempt(now, attempts)
        if retry_at is None:
            values.update(status="failed", done_at=now, lease_until=None)
        else:
            values["lease_until"] = retry_at
        conn.execute(update(d).where(d.c.id == deadline.id, d.c.status == "pending").values(values))
        case = persist.load_case(conn, deadline.case_id)
        return incidents.deadline_failed(
            conn, deadline, case.workflow, message, attempts, retry_at, now
        )

    return str(engine._retrying(work))


def report_step_failures(report: WorkerReport, step: Any) -> None:
    """Automation a committed step could not do (kept as incidents): reported and logged."""
    for failed in step.writes.incidents if step is not None else ():
        detail = f"{failed['kind']} {failed['target']}: {failed['error']}"
        report.errors.append(f"case {failed['case_id'][:8]}: {detail} (retrying)")
        log_item("incident", "retry", logging.WARNING, case=failed["case_id"], detail=detail)


def observe_committed(engine: Engine, step: Any) -> None:
    """after_transition hooks once the deadline's step has committed; a hook bug is logged."""
    try:
        engine._observe(step)
    except Exception as exc:  # the step is committed: an observer cannot undo it
        log_item(
            "hook",
            "error",
            logging.ERROR,
            case=step.case.id,
            detail=f"after_transition: {type(exc).__name__}: {exc}",
        )


# -- one pass ---------------------------------------------------------------------------


def deliver(engine: Engine, stop: Stop | None = None) -> WorkerReport:
    """Deliver the outbox in batches, honouring a stop request between batches."""
    stopped = stop or _never
    report = WorkerReport()
    while not stopped():
        batch = engine.deliver_outbox(limit=OUTBOX_BATCH)
        report.delivered += batch.delivered
        report.failed += batch.failed
        report.retried += batch.retried
        report.errors.extend(batch.errors)
        if batch.delivered:
            log_item("notification", "delivered", count=batch.delivered)
        for error in batch.errors:
            outcome = "retry" if "will be retried" in error else "failed"
            if "lease expired" in error:
                outcome = "lease_expired"
            log_item("notification", outcome, logging.WARNING, detail=error)
        if not (batch.delivered or batch.failed or batch.retried):
            break
    return report


def run_pass(engine: Engine, stop: Stop | None = None) -> PassReport:
    """One worker pass: due schedule ticks, then due deadlines, then the outbox."""
    from opsflow.runners.recovery import retry_due
    from opsflow.runners.schedules import start_due_schedules

    stopped = stop or _never
    report = PassReport()
    report.add(start_due_schedules(engine, stop=stopped))
    if not stopped():
        report.add(fire_due_deadlines(engine, stop=stopped))
    if not stopped():
        report.add(retry_due(engine, stop=stopped))
    if not stopped():
        report.add(deliver(engine, stop=stopped))
    with engine.db.read() as conn:
        report.incidents_open = incidents.open_count(conn)
    return report


# -- log lines ------------------------------------------------------------------------


class ItemFormatter(logging.Formatter):
    """One line per record: logfmt (``time=… worker=… kind=… outcome=…``) or a JSON object."""

    def __init__(self, style: str = "logfmt") -> None:
        super().__init__()
        self.style = style

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        fields: dict[str, Any] = {"time": when, "level": record.levelname.lower()}
        fields.update(getattr(record, "opsflow", None) or {"message": record.getMessage()})
        if self.style == "json":
            return json.dumps(fields, ensure_ascii=False, default=str)
        return " ".join(f"{key}={_logfmt(value)}" for key, value in fields.items())


def _logfmt(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
