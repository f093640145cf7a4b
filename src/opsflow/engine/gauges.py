"""What ``/metrics`` shows beyond HTTP requests: the database's backlog and this process's steps.

Gauges are read with a few aggregate queries, each along an index (``ix_outbox_due``,
``ix_deadlines_due``, ``ix_incidents_due``): a scrape costs the same with a million cases
as with ten. Step and refusal counts are this process's own, kept in memory since it
started (Prometheus scrapes each process and adds them up).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from opsflow.engine.incidents import UNRESOLVED
from opsflow.store import tables

_LOCK = threading.Lock()
_STEPS: Counter[str] = Counter()  # outcome -> steps this process committed
_REFUSALS: Counter[str] = Counter()  # code -> a person's refused fires (audited as denied)


def count_step(outcome: str) -> None:
    """A committed step of a person (its outcome: started, moved, changed, ...)."""
    with _LOCK:
        _STEPS[outcome] += 1


def count_refusal(code: str) -> None:
    """A person's fire the decision refused (``not_permitted``, ``refused``)."""
    with _LOCK:
        _REFUSALS[code] += 1


def tallies() -> tuple[dict[str, int], dict[str, int]]:
    """Steps by outcome and refusals by code, counted in this process."""
    with _LOCK:
        return dict(_STEPS), dict(_REFUSALS)


@dataclass(frozen=True)
class Gauges:
    """The backlog as the database holds it now (ages in seconds; 0 when nothing waits)."""

    outbox: dict[str, int] = field(default_factory=dict)  # pending|failed -> notifications
    outbox_oldest_pending_seconds: float = 0.0
    deadlines_overdue: int = 0
    worker_lag_seconds: float = 0.0  # how long the oldest due deadline has waited
    incidents_open: int = 0  # open or still being retried
    steps: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


def read_gauges(conn: Connection, now: datetime) -> Gauges:
    """The gauges, read in one transaction."""
    o, d, i = tables.outbox.c, tables.deadlines.c, tables.incidents.c
    by_status = {
        row.status: int(row.n)
        for row in conn.execute(
            select(o.status, func.count().label("n"))
            .where(o.status.in_(("pending", "failed")))
            .group_by(o.status)
        )
    }
    oldest = conn.execute(select(func.min(o.created_at)).where(o.status == "pending")).scalar()
    overdue = conn.execute(
        select(func.count(), func.min(d.due_at)).where(d.status == "pending", d.due_at <= now)
    ).one()
    incidents = conn.execute(
        select(func.count()).select_from(tables.incidents).where(i.status.in_(UNRESOLVED))
    ).scalar()
    steps, refusals = tallies()
    return Gauges(
        outbox={s: by_status.get(s, 0) for s in ("pending", "failed")},
        outbox_oldest_pending_seconds=_age(now, oldest),
        deadlines_overdue=int(overdue[0] or 0),
        worker_lag_seconds=_age(now, overdue[1]),
        incidents_open=int(incidents or 0),
        steps=steps,
        refusals=refusals,
    )


__all__ = ["Gauges", "count_refusal", "count_step", "read_gauges", "tallies"]
