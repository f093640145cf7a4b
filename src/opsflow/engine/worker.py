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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from opsflow.engine import persist
from opsflow.engine.decide import SYSTEM
from opsflow.engine.results import WorkerReport
from opsflow.errors import Busy, OpsflowError
from opsflow.store import tables as t

if TYPE_CHECKING:
    from opsflow.engine.engine import Engine

LOG = logging.getLogger("opsflow.worker")
MAX_ATTEMPTS = 5  # unexpected errors on one deadline before it is marked failed
RETRY_AFTER = timedelta(minutes=1)  # first backoff after an unexpected error; doubles
OUTBOX_BATCH = 20  # notifications per delivery call: a stop request is honoured between

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
        """Add another report's counts and errors to this one."""
        self.deadlines_fired += other.deadlines_fired
        self.deadlines_skipped += other.deadlines_skipped
        self.delivered += other.delivered
        self.failed += other.failed
        self.retried += other.retried
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
    """Fire due deadlines one transaction each, only if the case is still in that visit."""
    report = WorkerReport()
    stopped = stop or _never
    me = worker_id()
    while limit is None or report.deadlines_fired + report.deadlines_skipped < limit:
        if stopped():
            break
        held: dict[str, Any] = {}
        try:
            outcome = engine._retrying(partial(_fire_one, engine, me=me, held=held))
        except Busy:
            raise
        except Exception as exc:  # a plugin, calculator or hook bug: back off, go on
            if "deadline" not in held:
                raise
            message = engine.settings.redact(f"{type(exc).__name__}: {exc}")
            status = _record_failure(engine, held["deadline"], message, me)
            report.deadlines_skipped += 1
            report.errors.append(f"deadline {held['deadline'].id}: {message}")
            log_item(
                "deadline",
                status,
                logging.ERROR,
                case=held["deadline"].case_id,
                event=held["deadline"].event,
                detail=message,
            )
            continue
        if outcome is None:
            break
        result, detail = outcome
        deadline = held["deadline"]
        if result == "fired":
            report.deadlines_fired += 1
            if "step" in held:
                observe_committed(engine, held["step"])
        else:
            report.deadlines_skipped += 1
            if detail is not None and result == "skipped":
                report.errors.append(
                    f"deadline {deadline.id} ({deadline.event}) on {deadline.case_id[:8]}: {detail}"
                )
        log_item("deadline", result, case=deadline.case_id, event=deadline.event, detail=detail)
    return report


def _claim(engine: Engine, conn: Connection, now: datetime) -> Any:
    d, c = t.deadlines, t.cases
    query = (
        select(d)
        .join(c, c.c.id == d.c.case_id)
        .where(
            d.c.status == "pending",
            d.c.due_at <= now,
            or_(d.c.lease_until.is_(None), d.c.lease_until <= now),
        )
        .order_by(d.c.due_at, d.c.id)
        .limit(1)
    )
    if engine.db.row_locks:
        # Lock the case too and skip it when someone holds it: a worker that waited on a
        # case whose step cancels this very deadline would deadlock with that step.
        query = query.with_for_update(skip_locked=True, of=[d, c])
    return conn.execute(query).first()


def _fire_one(
    engine: Engine, conn: Connection, *, me: str, held: dict[str, Any]
) -> tuple[str, str | None] | None:
    now = engine.clock()
    held.pop("step", None)
    deadline = _claim(engine, conn, now)
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
        return "cancelled", "state left before the deadline"
    step = engine._step_for(conn, case, now)
    try:
        step.fire(deadline.event, step.actor(SYSTEM), kind="timer")
    except OpsflowError as exc:
        note = exc.message + ("; " + "; ".join(exc.reasons) if exc.reasons else "")
        mark("skipped", note)
        return "skipped", note
    persist.flush(
        conn, step.wf, step.case, step.writes, new=False, expected_version=expected, now=now
    )
    mark("fired")
    held["step"] = step
    return "fired", None


def _record_failure(engine: Engine, deadline: Any, message: str, me: str) -> str:
    """Count an unexpected failure; retry after a backoff, or give up after MAX_ATTEMPTS."""
    now = engine.clock()
    d = t.deadlines
    with engine.db.write() as conn:
        attempts = conn.execute(select(d.c.attempts).where(d.c.id == deadline.id)).scalar()
        attempts = int(attempts or 0) + 1
        values: dict[str, Any] = {"attempts": attempts, "note": message, "claimed_by": me}
        if attempts >= MAX_ATTEMPTS:
            values.update(status="failed", done_at=now, lease_until=None)
            status = "failed"
        else:
            values["lease_until"] = now + RETRY_AFTER * 2 ** (attempts - 1)
            status = "retry"
        conn.execute(update(d).where(d.c.id == deadline.id, d.c.status == "pending").values(values))
    return status


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
    from opsflow.engine.schedules import start_due_schedules

    stopped = stop or _never
    report = PassReport()
    report.add(start_due_schedules(engine, stop=stopped))
    if not stopped():
        report.add(fire_due_deadlines(engine, stop=stopped))
    if not stopped():
        report.add(deliver(engine, stop=stopped))
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
