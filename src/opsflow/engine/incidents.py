"""Incidents: automation whose step failed, kept with its error and retried with backoff.

A timer or SLA whose event fails, a schedule tick that cannot start its case, and the
automation inside a step (an automatic transition, a ``fire`` or ``compute`` action, a
rule's actions) are never dropped. Each failure is an ``incidents`` row: ``retrying`` while
tries remain (the worker tries again at ``next_attempt_at``, backing off), then ``open``
until a person retries it (after fixing the cause) or resolves it with a comment. A retry
that succeeds makes it ``recovered``; automation whose case has left the state it was for
is ``cancelled``. This module reads and writes the rows; ``recovery`` runs the retries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from opsflow.clock import later
from opsflow.core.results import Incident
from opsflow.limits import storable_id
from opsflow.store import tables

MAX_ATTEMPTS = 5  # tries of one piece of automation before its incident opens
FIRST_RETRY = timedelta(minutes=1)  # the wait after the first failure; doubles each time
UNRESOLVED = ("retrying", "open")


def next_attempt(now: datetime, attempts: int) -> datetime | None:
    """When to try again after ``attempts`` failures; None once the tries are used up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return later(now, FIRST_RETRY * 2 ** (attempts - 1))


def retry_window() -> timedelta:
    """How long after the first failure the last automatic try comes."""
    return sum((FIRST_RETRY * 2**n for n in range(MAX_ATTEMPTS - 1)), timedelta())


def _new(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "case_id": None,
        "state": None,
        "visit": None,
        "event": None,
        "deadline_id": None,
        "tick": None,
        "detail": {},
        "attempts": 1,
        "status": "retrying",
        "next_attempt_at": next_attempt(now, 1),
        "created_at": now,
        "updated_at": now,
    }
    row.update(values)
    return row


def record_step_failures(conn: Connection, failures: list[dict[str, Any]], now: datetime) -> None:
    """Write the automation a step could not do: a new incident, or the error of the same one.

    The same piece of automation failing again in the same visit (a person's next change
    sets off the same calculator) updates the unresolved incident instead of adding one.
    """
    i = tables.incidents
    for failure in failures:
        same = conn.execute(
            select(i.c.id).where(
                i.c.case_id == failure["case_id"],
                i.c.kind == failure["kind"],
                i.c.target == failure["target"],
                i.c.visit == failure["visit"],
                i.c.status.in_(UNRESOLVED),
            )
        ).first()
        if same is not None:
            conn.execute(
                update(i).where(i.c.id == same.id).values(error=failure["error"], updated_at=now)
            )
        else:
            conn.execute(insert(i).values(_new(failure, now)))


def deadline_failed(
    conn: Connection,
    deadline: Any,
    workflow: str,
    error: str,
    attempts: int,
    retry_at: datetime | None,
    now: datetime,
) -> str:
    """Keep the incident of a deadline whose step failed; ``retry`` or ``open``."""
    i = tables.incidents
    status = "retrying" if retry_at is not None else "open"
    values = {"error": error, "attempts": attempts, "status": status, "next_attempt_at": retry_at}
    found = conn.execute(
        select(i.c.id).where(i.c.deadline_id == deadline.id, i.c.status.in_(UNRESOLVED))
    ).first()
    if found is not None:
        conn.execute(update(i).where(i.c.id == found.id).values({**values, "updated_at": now}))
    else:
        row = {
            "kind": deadline.kind,
            "target": deadline.event,
            "workflow": workflow,
            "case_id": deadline.case_id,
            "state": deadline.state,
            "visit": deadline.visit,
            "event": deadline.event,
            "deadline_id": deadline.id,
            "actor": "system",
        }
        conn.execute(insert(i).values(_new({**row, **values}, now)))
    return "retry" if retry_at is not None else "open"


def tick_failed(conn: Connection, workflow: str, tick: datetime, error: str, now: datetime) -> None:
    """The incident of a schedule tick that could not start its case (first try)."""
    row: dict[str, Any] = {
        "kind": "schedule",
        "target": workflow,
        "workflow": workflow,
        "tick": tick,
        "actor": "system",
        "error": error,
    }
    conn.execute(insert(tables.incidents).values(_new(row, now)))


def close_for_deadline(conn: Connection, deadline_id: int, status: str, now: datetime) -> None:
    """A deadline that had failed fired after all (``recovered``), or its visit ended."""
    i = tables.incidents
    conn.execute(
        update(i)
        .where(i.c.deadline_id == deadline_id, i.c.status.in_(UNRESOLVED))
        .values(status=status, closed_at=now, updated_at=now, next_attempt_at=None)
    )


_CANCELLED = {"status": "cancelled", "next_attempt_at": None}


def cancel_left_visits(
    conn: Connection, case_id: str, visit: int, now: datetime, *, deadlines_only: bool = True
) -> None:
    """The case left the visits before ``visit``: their deadlines' failures are moot now
    (and, with ``deadlines_only=False``, every failure of those visits: a migration)."""
    i = tables.incidents
    where = [i.c.case_id == case_id, i.c.status.in_(UNRESOLVED), i.c.visit < visit]
    if deadlines_only:
        where.append(i.c.kind.in_(("timer", "sla")))
    conn.execute(
        update(i).where(*where).values({**_CANCELLED, "closed_at": now, "updated_at": now})
    )


def cancel_for_deadlines(conn: Connection, deadline_ids: list[int], now: datetime) -> None:
    """These deadlines were replaced (their field moved): their failures are moot now."""
    if not deadline_ids:
        return
    i = tables.incidents
    conn.execute(
        update(i)
        .where(i.c.deadline_id.in_(deadline_ids), i.c.status.in_(UNRESOLVED))
        .values({**_CANCELLED, "closed_at": now, "updated_at": now})
    )


def close_done(
    conn: Connection, case_id: str, done: set[str], computed: set[str], now: datetime
) -> None:
    """Failed automation of the case that has since run after all: ``recovered``.

    ``done`` holds the ``kind:target`` keys a step ran (an automatic transition taken, a
    follow-up fired); ``computed`` the metrics it computed, by any means.
    """
    i = tables.incidents
    rows = conn.execute(
        select(i.c.id, i.c.kind, i.c.target).where(
            i.c.case_id == case_id,
            i.c.status.in_(UNRESOLVED),
            i.c.kind.in_(("auto", "fire", "compute", "rule")),
        )
    ).all()
    for row in rows:
        names = set(row.target.split(","))
        if f"{row.kind}:{row.target}" in done or (row.kind == "compute" and names <= computed):
            close(conn, row.id, "recovered", now)


def close(
    conn: Connection,
    incident_id: int,
    status: str,
    now: datetime,
    by: str | None = None,
    comment: str | None = None,
) -> None:
    """End an incident: ``recovered``, ``resolved`` (by a person) or ``cancelled``."""
    conn.execute(
        update(tables.incidents)
        .where(tables.incidents.c.id == incident_id)
        .values(
            status=status,
            closed_at=now,
            updated_at=now,
            closed_by=by,
            comment=comment,
            next_attempt_at=None,
        )
    )


def failed_again(conn: Connection, incident_id: int, error: str, now: datetime) -> str:
    """Count one more failed try: ``retry`` after a backoff, or ``open`` once out of tries.

    An incident closed meanwhile (another worker's retry worked, a person resolved it)
    stays closed: ``closed``.
    """
    i = tables.incidents
    row = conn.execute(select(i.c.attempts, i.c.status).where(i.c.id == incident_id)).first()
    if row is None or row.status not in UNRESOLVED:
        return "closed"
    attempts = int(row.attempts) + 1
    retry_at = next_attempt(now, attempts)
    conn.execute(
        update(i)
        .where(i.c.id == incident_id, i.c.status.in_(UNRESOLVED))
        .values(
            attempts=attempts,
            error=error,
            updated_at=now,
            next_attempt_at=retry_at,
            status="retrying" if retry_at is not None else "open",
        )
    )
    return "retry" if retry_at is not None else "open"


def claim_due(conn: Connection, now: datetime, skip_locked: bool) -> Any:
    """The next incident whose retry is due (deadlines retry through their own rows).

    On PostgreSQL a case's incident is claimed with its case row, both skipped when
    someone holds either (a person's step locks the case, then updates its incidents:
    the same order, so the two never deadlock).
    """
    i, c = tables.incidents, tables.cases
    due = [i.c.status == "retrying", i.c.next_attempt_at <= now]
    order = (i.c.next_attempt_at, i.c.id)
    of_cases = (
        select(i)
        .join(c, c.c.id == i.c.case_id)
        .where(*due, i.c.kind.in_(("auto", "fire", "compute", "rule")))
        .order_by(*order)
        .limit(1)
    )
    ticks = select(i).where(*due, i.c.kind == "schedule").order_by(*order).limit(1)
    if skip_locked:
        of_cases = of_cases.with_for_update(skip_locked=True, of=[i, c])
        ticks = ticks.with_for_update(skip_locked=True)
    return conn.execute(of_cases).first() or conn.execute(ticks).first()


def row_of(conn: Connection, incident_id: int, lock: bool = False) -> Any:
    """The incident's row, None when there is none (or the number cannot be a row id)."""
    if not storable_id(incident_id):
        return None
    query = select(tables.incidents).where(tables.incidents.c.id == incident_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def view(row: Any) -> Incident:
    m = row._mapping
    return Incident(
        id=m["id"],
        kind=m["kind"],
        target=m["target"],
        workflow=m["workflow"],
        case_id=m["case_id"],
        state=m["state"],
        event=m["event"],
        actor=m["actor"],
        error=m["error"],
        attempts=m["attempts"],
        status=m["status"],
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        closed_by=m["closed_by"],
        comment=m["comment"],
        tick=m["tick"],
        closed_at=m["closed_at"],
    )


def listing(
    conn: Connection,
    *,
    everything: bool = False,
    case_id: str | None = None,
    limit: int | None = None,
) -> list[Incident]:
    """Incidents, newest first: the unresolved ones, or ``everything``."""
    i = tables.incidents
    query = select(i).order_by(i.c.created_at.desc(), i.c.id.desc())
    if not everything:
        query = query.where(i.c.status.in_(UNRESOLVED))
    if case_id is not None:
        query = query.where(i.c.case_id == case_id)
    if limit is not None:
        query = query.limit(limit)
    return [view(r) for r in conn.execute(query)]


def open_count(conn: Connection) -> int:
    """How many incidents are open (out of automatic tries: a person must act)."""
    i = tables.incidents
    return int(conn.execute(select(func.count()).where(i.c.status == "open")).scalar() or 0)
