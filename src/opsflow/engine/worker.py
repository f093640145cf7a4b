"""The worker's deadline job: fire due deadlines, each exactly once (SPEC §6)."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from opsflow.engine import persist
from opsflow.engine.decide import SYSTEM
from opsflow.engine.results import WorkerReport
from opsflow.errors import OpsflowError
from opsflow.store import tables as t

if TYPE_CHECKING:
    from opsflow.engine.engine import Engine

def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_deadline(engine: Engine, conn: Connection, now: datetime) -> Any:
    query = (
        select(t.deadlines)
        .where(t.deadlines.c.status == "pending", t.deadlines.c.due_at <= now)
        .order_by(t.deadlines.c.due_at, t.deadlines.c.id)
        .limit(1)
    )
    if engine.db.row_locks:
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).first()


def fire_due_deadlines(engine: Engine, limit: int | None = None) -> WorkerReport:
    """Fire due deadlines one transaction each, only if the case is still in that visit."""
    report = WorkerReport()
    while limit is None or report.deadlines_fired + report.deadlines_skipped < limit:
        outcome = engine._retrying(lambda conn: _fire_one(engine, conn))
        if outcome is None:
            break
        if outcome == "fired":
            report.deadlines_fired += 1
        else:
            report.deadlines_skipped += 1
            report.errors.append(outcome)
    return report


def _fire_one(engine: Engine, conn: Connection) -> str | None:
    now = engine.clock()
    deadline = _claim_deadline(engine, conn, now)
    if deadline is None:
        return None
    case = persist.load_case(conn, deadline.case_id, lock=engine.db.row_locks)
    expected = case.row_version

    def mark(status: str, note: str | None = None) -> None:
        conn.execute(
            update(t.deadlines)
            .where(t.deadlines.c.id == deadline.id)
            .values(status=status, done_at=now, note=note, claimed_by=worker_id())
        )

    if case.closed or case.state != deadline.state or case.visit != deadline.visit:
        mark("cancelled", "state left before the deadline")
        return "skipped: stale deadline"
    step = engine._step_for(conn, case, now)
    try:
        step.fire(deadline.event, step.actor(SYSTEM), kind="timer")
    except OpsflowError as exc:
        mark("skipped", exc.message + ("; " + "; ".join(exc.reasons) if exc.reasons else ""))
        return f"deadline {deadline.id} ({deadline.event}) on {case.id[:8]}: {exc.message}"
    persist.flush(
        conn, step.wf, step.case, step.writes, new=False, expected_version=expected, now=now
    )
    mark("fired")
    return "fired"
