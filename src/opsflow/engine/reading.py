"""Lists of cases, read in one transaction each (a person's inbox: ``opsflow.engine.inbox``)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.engine import Connection

from opsflow.core.results import CaseList
from opsflow.engine import persist
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
