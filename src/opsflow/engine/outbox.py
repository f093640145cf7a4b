"""The outbox: notifications written in a step's transaction, delivered after commit (SPEC §6)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from opsflow.engine import persist
from opsflow.engine.results import OutboxRow, WorkerReport
from opsflow.engine.worker import worker_id
from opsflow.errors import OpsflowError
from opsflow.store import tables as t

if TYPE_CHECKING:
    from opsflow.engine.engine import Engine

MAX_ATTEMPTS = 10
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=6)
LEASE = timedelta(minutes=5)


def _backoff(attempts: int) -> timedelta:
    base = min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return base * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security


def deliver_outbox(engine: Engine, limit: int | None = None) -> WorkerReport:
    """Deliver due notifications; failures back off, then are marked failed."""
    from opsflow.plugins import Notification

    report = WorkerReport()
    me = worker_id()
    now = engine.clock()
    with engine.db.read() as conn:
        query = (
            select(t.outbox.c.id)
            .where(
                t.outbox.c.status == "pending",
                or_(t.outbox.c.next_attempt_at.is_(None), t.outbox.c.next_attempt_at <= now),
            )
            .order_by(t.outbox.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        ids = list(conn.execute(query).scalars())
    for row_id in ids:
        with engine.db.write() as conn:
            claimed = conn.execute(
                update(t.outbox)
                .where(
                    t.outbox.c.id == row_id,
                    t.outbox.c.status == "pending",
                    or_(t.outbox.c.lease_until.is_(None), t.outbox.c.lease_until < now),
                )
                .values(claimed_by=me, lease_until=now + LEASE)
            ).rowcount
            row = conn.execute(select(t.outbox).where(t.outbox.c.id == row_id)).first()
        if not claimed or row is None:
            continue
        error = None
        channel = engine.settings.channels.get(row.channel)
        try:
            if channel is None:
                raise OpsflowError(f"channel '{row.channel}' is not configured in opsflow.yaml")
            notifier_name = channel.get("notifier")
            notifier = engine.plugins.notifiers.get(notifier_name)
            if notifier is None:
                raise OpsflowError(f"no notifier '{notifier_name}' is installed")
            settings = dict(channel)
            settings.setdefault("_base_dir", str(engine.settings.base_dir))
            notifier(
                Notification(
                    channel=row.channel,
                    to=row.recipient,
                    subject=row.subject,
                    message=row.message,
                    case=row.case_id,
                    event=row.event,
                    dedupe_key=row.dedupe_key,
                    settings=settings,
                )
            )
        except Exception as exc:  # a notifier raises to ask for a retry
            error = engine.settings.redact(f"{type(exc).__name__}: {exc}")
        attempts = row.attempts + 1
        if error is None:
            values: dict[str, Any] = {
                "status": "delivered",
                "attempts": attempts,
                "delivered_at": engine.clock(),
                "last_error": None,
                "lease_until": None,
            }
            report.delivered += 1
        elif attempts >= MAX_ATTEMPTS:
            values = {
                "status": "failed",
                "attempts": attempts,
                "last_error": error,
                "lease_until": None,
            }
            report.failed += 1
            report.errors.append(f"notification {row.id} failed: {error}")
        else:
            values = {
                "attempts": attempts,
                "last_error": error,
                "lease_until": None,
                "next_attempt_at": engine.clock() + _backoff(attempts),
            }
            report.retried += 1
            report.errors.append(f"notification {row.id} will be retried: {error}")
        with engine.db.write() as conn:
            conn.execute(update(t.outbox).where(t.outbox.c.id == row_id).values(**values))
    return report


def outbox_rows(
    engine: Engine, failed: bool = False, case_id: str | None = None, limit: int | None = None
) -> list[OutboxRow]:
    query = select(t.outbox).order_by(t.outbox.c.id.desc())
    if failed:
        query = query.where(t.outbox.c.status == "failed")
    with engine.db.read() as conn:
        if case_id:
            query = query.where(t.outbox.c.case_id == persist.resolve_case_id(conn, case_id))
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
    redact = engine.settings.redact
    return [
        OutboxRow(
            id=r.id,
            case=r.case_id,
            channel=r.channel,
            to=r.recipient,
            subject=r.subject,
            message=r.message,
            event=r.event,
            dedupe_key=r.dedupe_key,
            status=r.status,
            attempts=r.attempts,
            last_error=redact(r.last_error) if r.last_error else None,
            created_at=r.created_at,
            next_attempt_at=r.next_attempt_at,
            delivered_at=r.delivered_at,
        )
        for r in rows
    ]
