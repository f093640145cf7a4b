"""The outbox: notifications written in a step's transaction, delivered after commit (SPEC §6).

Delivery is at least once. A worker pass claims one due row at a time in its own short
write transaction — PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``, SQLite ``BEGIN
IMMEDIATE`` — and sets a lease (``claimed_by`` + ``lease_until``); no other worker claims a
row whose lease has not expired, so two workers never deliver the same row at once. The
notifier runs outside any transaction; the outcome is then written only if this worker
still holds the lease. A worker that dies mid-attempt leaves its row leased: when the lease
expires (:data:`LEASE`, 5 minutes, longer than the longest attempt a built-in notifier
makes) the next worker delivers it again; the notifier's ``dedupe_key`` lets the receiver
drop the repeat.

Backoff, on opsflow's clock (``engine.clock()``, which honours ``OPSFLOW_NOW``): after the
n-th failed attempt the next is due ``d(n) + jitter`` later, where ``d(n) = min(30 s ·
2^(n−1), 6 h)`` — stamina's exponential shape (initial · base^(n−1), capped) — and the
jitter is uniform in ``[0, 25 % of d(n)]`` so that workers recovering from one outage
spread out. After :data:`MAX_ATTEMPTS` (12) failed attempts the row is ``failed``:

    attempt   1    2    3    4     5     6     7     8      9      10    11    12
    at (min)  0  0.5  1.5  3.5   7.5  15.5  31.5  63.5  127.5  255.5  511.5  871.5

so the 12th attempt comes 14 h 31.5 min after the first without jitter and at most
18 h 9 min with it (:func:`schedule_bounds`), after which the notification is failed.
A notifier's exception with a true ``permanent`` attribute (HTTP 4xx, SMTP 5xx) marks
the row ``failed`` at once. ``retry_notification`` queues a failed row again with a fresh
schedule: ``attempts`` restarts at 0 (it counts the attempts of the current round; the
previous round's last error stays on the row until the next attempt replaces it).
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Row

from opsflow.clock import later
from opsflow.core.results import OutboxRow, WorkerReport
from opsflow.engine import persist, unit
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import NotFound, OpsflowError, Refused
from opsflow.limits import storable_id
from opsflow.runners.items import worker_id
from opsflow.store import tables

if TYPE_CHECKING:
    from opsflow.engine import CaseEngine as Engine

MAX_ATTEMPTS = 12
BACKOFF_INITIAL = timedelta(seconds=30)
BACKOFF_EXP_BASE = 2
BACKOFF_MAX = timedelta(hours=6)
BACKOFF_JITTER = 0.25  # the largest jitter, as a share of the delay
LEASE = timedelta(minutes=5)
MAX_ERROR_CHARS = 2000


def backoff_delay(failures: int) -> timedelta:
    """The delay after the ``failures``-th failed attempt, without jitter."""
    try:
        delay = BACKOFF_INITIAL * (BACKOFF_EXP_BASE ** max(failures - 1, 0))
    except OverflowError:
        return BACKOFF_MAX
    return min(delay, BACKOFF_MAX)


def backoff(failures: int, rng: random.Random | None = None) -> timedelta:
    """The delay after the ``failures``-th failed attempt, with jitter."""
    delay = backoff_delay(failures)
    return delay * (1 + (rng or random).uniform(0, BACKOFF_JITTER))


def schedule_bounds() -> tuple[timedelta, timedelta]:
    """The shortest and longest time from the first attempt to the last one."""
    base = sum((backoff_delay(n) for n in range(1, MAX_ATTEMPTS)), timedelta())
    return base, base * (1 + BACKOFF_JITTER)


def deliver_outbox(engine: Engine, limit: int | None = None) -> WorkerReport:
    """Deliver due notifications, one claimed row at a time; failures back off, then fail."""
    report = WorkerReport()
    token = f"{worker_id()}:{uuid.uuid4().hex[:8]}"  # unique per pass, even within a process
    handled = 0
    while limit is None or handled < limit:
        row = _claim(engine, token)
        if row is None:
            break
        handled += 1
        error, permanent = _attempt(engine, row)
        _record(engine, row, token, error, permanent, report)
    return report


def _claim(engine: Engine, token: str) -> Row[Any] | None:
    """Lease the next due row no live lease covers; ``None`` when there is none."""
    c = tables.outbox.c

    def lease_next(tx: CaseTransaction) -> Row[Any] | None:
        now = tx.now
        query = (
            select(tables.outbox)
            .where(
                c.status == "pending",
                or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
                or_(c.lease_until.is_(None), c.lease_until < now),
            )
            .order_by(c.id)
            .limit(1)
        )
        if engine.db.row_locks:
            query = query.with_for_update(skip_locked=True)
        row = tx.conn.execute(query).first()
        if row is not None:
            tx.conn.execute(
                update(tables.outbox)
                .where(c.id == row.id)
                .values(claimed_by=token, lease_until=later(now, LEASE))
            )
        return row

    return unit.transact(engine, lease_next)


def _attempt(engine: Engine, row: Row[Any]) -> tuple[str | None, bool]:
    """Run the channel's notifier once: (redacted error or ``None``, permanent?)."""
    from opsflow.builtins.notifier_kit import scrub
    from opsflow.plugins import Notification

    channel = engine.settings.channels.get(row.channel)
    settings: dict[str, Any] = dict(channel or {})
    try:
        if channel is None:
            raise OpsflowError(f"channel '{row.channel}' is not configured in opsflow.yaml")
        notifier_name = channel.get("notifier")
        notifier = engine.plugins.notifiers.get(notifier_name)
        if notifier is None:
            raise OpsflowError(f"no notifier '{notifier_name}' is installed")
        settings.setdefault("_base_dir", str(engine.settings.base_dir))
        settings.setdefault("_team", {p: list(r) for p, r in engine.settings.team.items()})
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
        text = engine.settings.redact(scrub(f"{type(exc).__name__}: {exc}", settings))
        if len(text) > MAX_ERROR_CHARS:
            text = text[:MAX_ERROR_CHARS] + "…"
        return text, getattr(exc, "permanent", False) is True
    return None, False


def _record(
    engine: Engine,
    row: Row[Any],
    token: str,
    error: str | None,
    permanent: bool,
    report: WorkerReport,
) -> None:
    """Write the attempt's outcome, if this worker still holds the row's lease."""
    attempts = row.attempts + 1
    now = engine.clock()
    values: dict[str, Any] = {"attempts": attempts, "lease_until": None}
    if error is None:
        values.update(status="delivered", delivered_at=now, last_error=None)
    elif permanent or attempts >= MAX_ATTEMPTS:
        values.update(status="failed", last_error=error)
    else:
        values.update(last_error=error, next_attempt_at=later(now, backoff(attempts)))
    c = tables.outbox.c

    def write_outcome(tx: CaseTransaction) -> int:
        return tx.conn.execute(
            update(tables.outbox)
            .where(c.id == row.id, c.claimed_by == token, c.status == "pending")
            .values(**values)
        ).rowcount

    written = unit.transact(engine, write_outcome)
    if not written:
        report.errors.append(f"notification {row.id}: the lease expired during the attempt")
        if error is None:
            report.delivered += 1
        return
    if error is None:
        report.delivered += 1
    elif values.get("status") == "failed":
        report.failed += 1
        why = "refused for good" if permanent else f"gave up after {attempts} attempts"
        report.errors.append(f"notification {row.id} failed ({why}): {error}")
    else:
        report.retried += 1
        report.errors.append(f"notification {row.id} will be retried: {error}")


def retry_notification(engine: Engine, notification_id: int) -> OutboxRow:
    """Queue a failed notification again, due now, with a fresh retry schedule."""
    c = tables.outbox.c
    query = select(tables.outbox).where(c.id == notification_id)
    if engine.db.row_locks:
        query = query.with_for_update()

    def queue_again(tx: CaseTransaction) -> Row[Any]:
        conn = tx.conn
        row = conn.execute(query).first() if storable_id(notification_id) else None
        if row is None:
            raise NotFound(f"no notification {notification_id} in the outbox")
        if row.status != "failed":
            raise Refused(
                f"notification {notification_id} is {row.status}: only a failed one can be retried"
            )
        conn.execute(
            update(tables.outbox)
            .where(c.id == notification_id)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=tx.now,
                lease_until=None,
                claimed_by=None,
            )
        )
        return conn.execute(select(tables.outbox).where(c.id == notification_id)).one()

    return _view(engine, unit.transact(engine, queue_again))


def outbox_rows(
    engine: Engine, failed: bool = False, case_id: str | None = None, limit: int | None = None
) -> list[OutboxRow]:
    """Notifications, newest first, with any secret in their last error redacted."""
    query = select(tables.outbox).order_by(tables.outbox.c.id.desc())
    if failed:
        query = query.where(tables.outbox.c.status == "failed")
    with engine.db.read() as conn:
        if case_id:
            query = query.where(tables.outbox.c.case_id == persist.resolve_case_id(conn, case_id))
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
    return [_view(engine, r) for r in rows]


def _view(engine: Engine, r: Row[Any]) -> OutboxRow:
    redact = engine.settings.redact
    return OutboxRow(
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


def view_row(engine: Engine, row: Row[Any]) -> OutboxRow:
    """A stored notification as the doors show it (secrets redacted)."""
    return _view(engine, row)
