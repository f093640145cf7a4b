"""Lists of cases: filtered case lists and a person's inbox, read in one transaction each."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Connection

from opsflow.core import preview
from opsflow.core.results import Case, CaseList
from opsflow.engine import persist
from opsflow.engine.unit import CaseTransaction
from opsflow.store import tables


def case_list(
    conn: Connection,
    workflow: str | None,
    state: str | None,
    open: bool | None,
    limit: int | None,
    readable: ColumnElement[bool] | None = None,
) -> CaseList:
    """Cases, newest first, with their pending deadlines; unreadable rows named, not shown."""
    cases = tables.cases
    query = select(cases)
    if readable is not None:  # only the cases the person may read (engine.access)
        query = query.where(readable)
    if workflow:
        query = query.where(cases.c.workflow == workflow)
    if state:
        query = query.where(cases.c.state == state)
    if open is not None:
        query = query.where(cases.c.closed.is_(not open))
    query = query.order_by(cases.c.created_at.desc(), cases.c.id)
    if limit is not None:
        query = query.limit(limit)
    rows, damaged = persist.readable_cases(conn, query)
    ids = query.with_only_columns(cases.c.id)
    deadlines = persist.pending_deadlines_by_case(conn, ids) if rows else {}
    found = CaseList(r.view(deadlines=deadlines.get(r.id, [])) for r in rows)
    found.unreadable = [str(d) for d in damaged]
    return found


def inbox(
    tx: CaseTransaction,
    actor: str,
    limit: int | None,
    readable: ColumnElement[bool] | None = None,
) -> CaseList:
    """Open cases where ``actor`` can fire an event now, most recently changed first.

    Events that only a deadline is meant to fire (they name no roles) are left out.
    """
    cases = tables.cases
    query = select(cases).where(cases.c.closed.is_(False)).order_by(cases.c.updated_at.desc())
    if readable is not None:
        query = query.where(readable)
    rows, damaged = persist.readable_cases(tx.conn, query)
    found = CaseList()
    found.unreadable = [str(d) for d in damaged]
    for case in rows:
        step = tx.step_on(tx.pinned(case), case)
        wf = step.wf
        # A deadline's event open to anyone is the worker's job, not an inbox item.
        timed = {
            d.event
            for d in wf.deadlines.get(case.state, ())
            if not any(c.roles for c in wf.candidates(case.state, d.event))
        }
        events = [
            e for e in preview.event_statuses(step, actor) if e.allowed and e.event not in timed
        ]
        if events:
            found.append(Case(**{**case.view(wf.spec.title).__dict__, "events": events}))
            if limit is not None and len(found) >= limit:
                break
    return found
