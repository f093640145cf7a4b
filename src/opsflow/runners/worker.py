"""The worker's pass: due schedule ticks, due deadlines, incident retries, the outbox (SPEC §6).

Each item is its own unit of work (see ``runners.deadlines``, ``schedules``, ``recovery``
and ``outbox``); a stop request (SIGTERM) is honoured between items.
"""

from __future__ import annotations

import logging

from opsflow.core.results import WorkerReport
from opsflow.engine import CaseEngine, incidents
from opsflow.runners.deadlines import fire_due_deadlines
from opsflow.runners.items import PassReport, Stop, log_item, never
from opsflow.runners.outbox import deliver_outbox
from opsflow.runners.recovery import retry_due
from opsflow.runners.schedules import start_due_schedules

OUTBOX_BATCH = 20  # notifications per delivery call: a stop request is honoured between


def deliver(engine: CaseEngine, stop: Stop | None = None) -> WorkerReport:
    """Deliver the outbox in batches, honouring a stop request between batches."""
    stopped = stop or never
    report = WorkerReport()
    while not stopped():
        batch = deliver_outbox(engine, limit=OUTBOX_BATCH)
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


def run_pass(engine: CaseEngine, stop: Stop | None = None) -> PassReport:
    """One worker pass: due schedule ticks, due deadlines, incident retries, then the outbox."""
    stopped = stop or never
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
