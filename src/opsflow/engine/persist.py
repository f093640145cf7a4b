"""Reading cases and writing a step's rows: the engine's side of the store, in SQLAlchemy Core."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from opsflow.clock import iso
from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.results import DeadlineView, HistoryEntry
from opsflow.core.working import WorkingCase, Writes
from opsflow.engine import incidents
from opsflow.engine.arming import flush_deadlines
from opsflow.errors import Damaged, NotFound, StaleCase, Usage
from opsflow.limits import MAX_ROW_ID
from opsflow.store import tables
from opsflow.store.hashing import chain_hash
from opsflow.store.prepared import Statement, fetch, run, run_many
from opsflow.store.rows import readable_rows

if TYPE_CHECKING:
    from opsflow.calendars import Calendar

LOG = logging.getLogger("opsflow.store")
ID_ALPHABET = set("0123456789abcdef")
_WHOLE_ID = re.compile("[0-9a-f]{32}")
MIN_PREFIX = 6

# The hot path's statements are built and compiled once per dialect and run on the
# driver's cursor (opsflow.store.prepared): a fire pays for SQLite's work, not SQLAlchemy's.
_CASE_COLUMNS = tuple(c.name for c in tables.cases.columns)
_CASE_SELECT = select(tables.cases).where(tables.cases.c.id == bindparam("case_id"))
_CASE = Statement(_CASE_SELECT)
_CASE_FOR_UPDATE = Statement(_CASE_SELECT.with_for_update())
_INSERT_CASE = insert(tables.cases)
_UPDATE_CASE = update(tables.cases).where(
    tables.cases.c.id == bindparam("_id"), tables.cases.c.row_version == bindparam("_expected")
)
# One UPDATE per set of changed columns (a handful in practice): an unchanged indexed
# column (state, workflow, closed) is not rewritten, so its index pages stay clean.
_UPDATES: dict[tuple[str, ...], Statement] = {}
_HISTORY_KEYS = frozenset(
    ("case_id", "seq", "at", "actor", "kind", "event", "from_state", "to_state")
    + ("data_changes", "comment", "detail", "prev_hash", "hash")
)
_INSERT_HISTORY_CORE = insert(tables.history)
_INSERT_HISTORY = Statement(_INSERT_HISTORY_CORE, sorted(_HISTORY_KEYS))
_DEADLINES = Statement(
    select(tables.deadlines)
    .where(
        tables.deadlines.c.case_id == bindparam("case_id"), tables.deadlines.c.status == "pending"
    )
    .order_by(tables.deadlines.c.due_at)
)
_APPROVERS = select(tables.approvals.c.actor).where(
    tables.approvals.c.case_id == bindparam("case_id"),
    tables.approvals.c.visit == bindparam("visit"),
    tables.approvals.c.event == bindparam("event"),
)


def resolve_case_id(conn: Connection, prefix: str) -> str:
    """The full id of the case ``prefix`` names (a whole id or a unique prefix of 6+ chars)."""
    if _WHOLE_ID.fullmatch(prefix):
        return prefix  # a whole id as stored (the common case): whoever loads it checks it
    text = prefix.strip().lower()
    if not text or not set(text) <= ID_ALPHABET or len(text) > 32:
        raise NotFound(f"no case '{prefix}'")
    if len(text) == 32:
        return text  # a whole id: whoever loads the case reports a missing one

    if len(text) < MIN_PREFIX:
        raise Usage(
            f"case id prefix '{prefix}' is too short: give at least {MIN_PREFIX} characters"
        )
    rows = (
        conn.execute(
            select(tables.cases.c.id)
            .where(and_(tables.cases.c.id >= text, tables.cases.c.id < text + "g"))
            .limit(2)
        )
        .scalars()
        .all()
    )
    if not rows:
        raise NotFound(f"no case '{prefix}'")
    if len(rows) > 1:
        raise Usage(f"case id prefix '{prefix}' is ambiguous: give more characters")
    return str(rows[0])


def load_case(conn: Connection, case_id: str, *, lock: bool = False) -> WorkingCase:
    rows = fetch(conn, _CASE_FOR_UPDATE if lock else _CASE, {"case_id": case_id})
    if not rows:
        raise NotFound(f"no case '{case_id}'")
    return case_from_values(dict(zip(_CASE_COLUMNS, rows[0], strict=True)))


def case_from_values(values: dict[str, Any]) -> WorkingCase:
    """A case from its decoded column values; Damaged when they are not a case's shape."""
    try:
        return WorkingCase.from_mapping(values, owned=True)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Damaged(
            f"damaged data: case {values.get('id')!r} has a column opsflow cannot read "
            f"({type(exc).__name__}: {exc}); run 'opsflow audit verify'"
        ) from exc


def readable_cases(conn: Connection, query: Any) -> tuple[list[WorkingCase], list[Damaged]]:
    """The cases ``query`` (a select of whole case rows) finds, and the unreadable ones."""
    rows, unreadable = readable_rows(conn, query)
    damaged: list[Damaged] = []
    found = []
    for values in rows:
        try:
            found.append(case_from_values(values))
        except Damaged as exc:
            damaged.append(exc)
    return found, [error for _raw, error in unreadable] + damaged


def approvals_of(conn: Connection, case_id: str, visit: int, event: str) -> set[str]:
    rows = conn.execute(_APPROVERS, {"case_id": case_id, "visit": visit, "event": event}).scalars()
    return set(rows)


def entry_payload(entry: dict[str, Any]) -> dict[str, Any]:
    """The hashed content of a history entry (everything but the hashes themselves)."""
    at = entry["at"]
    return {
        "seq": entry["seq"],
        "at": iso(at) if isinstance(at, datetime) else at,
        "actor": entry["actor"],
        "kind": entry["kind"],
        "event": entry["event"],
        "from": entry["from_state"],
        "to": entry["to_state"],
        "data_changes": entry["data_changes"] or {},
        "comment": entry["comment"],
        "detail": entry["detail"] or {},
    }


def flush(
    conn: Connection,
    wf: CompiledWorkflow,
    case: WorkingCase,
    writes: Writes,
    *,
    new: bool,
    expected_version: int,
    now: datetime,
    touch: bool = True,
    calendars: Mapping[str, Calendar] | None = None,
    zone: tzinfo = UTC,
) -> list[dict[str, Any]]:
    """Write one step: the case row (version-checked), history, approvals, deadlines, outbox.

    ``touch=False`` writes only history that leaves the case as it was (a ``denied`` entry,
    an incident's resolution): its row version (the ETag) and ``updated_at`` stay.
    """
    entries = _chained(case, writes.history)
    if touch:
        case.updated_at = now
    _write_case_row(conn, case, new=new, expected_version=expected_version, touch=touch)
    if entries:
        if all(e.keys() == _HISTORY_KEYS for e in entries):
            run_many(conn, _INSERT_HISTORY, entries)
        else:
            conn.execute(_INSERT_HISTORY_CORE, entries)
    if writes.left & wf.approval_states:
        conn.execute(delete(tables.approvals).where(tables.approvals.c.case_id == case.id))
    keep = [a for a in writes.approvals_add if a["visit"] == case.visit]
    if keep:
        conn.execute(insert(tables.approvals), keep)
    flush_deadlines(conn, wf, case, writes, now, calendars, zone)
    if writes.outbox:
        conn.execute(insert(tables.outbox), writes.outbox)
    if writes.done or writes.computed:
        incidents.close_done(conn, case.id, writes.done, writes.computed, now)
    if writes.incidents:
        incidents.record_step_failures(conn, writes.incidents, now)
    return entries


def _chained(case: WorkingCase, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A step's history entries in order, each linked into the case's hash chain."""
    entries = sorted(history, key=lambda e: e["seq"])
    prev = case.last_hash
    for entry in entries:
        entry["case_id"] = case.id
        entry["prev_hash"] = prev
        entry["hash"] = chain_hash(prev, case.id, entry_payload(entry))
        prev = entry["hash"]
    case.last_hash = prev
    return entries


def _write_case_row(
    conn: Connection, case: WorkingCase, *, new: bool, expected_version: int, touch: bool
) -> None:
    """Insert a new case, or update the changed columns if its row version is still
    ``expected_version`` (StaleCase otherwise: the unit of work tries again)."""
    if new:
        case.row_version = 1
        conn.execute(_INSERT_CASE, [case.row_values()])
        return
    case.row_version = expected_version + int(touch)
    values = case.changed_values()
    values.pop("id", None)
    columns = tuple(values)
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES.setdefault(columns, Statement(_UPDATE_CASE, columns))
    values["_id"], values["_expected"] = case.id, expected_version
    if run(conn, statement, values) != 1:
        raise StaleCase(case.id)


def pending_deadlines(
    conn: Connection, wf: CompiledWorkflow, case: WorkingCase
) -> list[DeadlineView]:
    """The case's pending deadlines, without a query when its state arms none.

    Pending deadlines only ever belong to the case's current state: leaving a state that
    has deadlines cancels them (``flush``), and a migration cancels them all and arms the
    target version's. So a state without deadlines in the pinned version has none pending.
    """
    if not wf.deadlines.get(case.state):
        return []
    return deadlines_of(conn, case.id)


def deadlines_of(conn: Connection, case_id: str) -> list[DeadlineView]:
    """The case's pending deadlines; an unreadable one is left out with a warning logged."""
    names = [c.name for c in tables.deadlines.columns]
    try:
        rows = fetch(conn, _DEADLINES, {"case_id": case_id})
    except Damaged:
        d = tables.deadlines.c
        query = select(tables.deadlines).where(d.case_id == case_id, d.status == "pending")
        found, damaged = readable_rows(conn, query.order_by(d.due_at))
        for _raw, problem in damaged:
            LOG.warning("%s (deadline left out)", problem)
        return [_deadline_view(r) for r in found]
    return [_deadline_view(dict(zip(names, raw, strict=True))) for raw in rows]


def _deadline_view(r: Any) -> DeadlineView:
    return DeadlineView(
        id=r["id"],
        state=r["state"],
        event=r["event"],
        kind=r["kind"],
        due_at=r["due_at"],
        status=r["status"],
        calendar=r.get("calendar"),
    )


def pending_deadlines_by_case(conn: Connection, cases: Any) -> dict[str, list[DeadlineView]]:
    """The pending deadlines of every case the ``cases`` select lists, by case, in one query.

    ``cases`` selects case ids (a listing's query); deadlines are soonest first per case.
    """
    query = (
        select(tables.deadlines)
        .where(tables.deadlines.c.status == "pending", tables.deadlines.c.case_id.in_(cases))
        .order_by(tables.deadlines.c.due_at, tables.deadlines.c.id)
    )
    found: dict[str, list[DeadlineView]] = {}
    rows, damaged = readable_rows(conn, query)
    for _raw, problem in damaged:
        LOG.warning("%s (deadline left out)", problem)
    for r in rows:
        found.setdefault(r["case_id"], []).append(_deadline_view(r))
    return found


def history_of(
    conn: Connection, case_id: str, after_seq: int = 0, limit: int | None = None
) -> list[HistoryEntry]:
    """A case's history entries, oldest first: those after ``after_seq``, ``limit`` at most."""
    if after_seq > MAX_ROW_ID:
        return []  # no entry comes after a number no sequence reaches
    h = tables.history.c
    query = select(tables.history).where(h.case_id == case_id)
    if after_seq:
        query = query.where(h.seq > after_seq)
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query.order_by(h.seq)).all()
    return [history_entry(r._mapping) for r in rows]


def history_entry(m: Any) -> HistoryEntry:
    return HistoryEntry(
        seq=m["seq"],
        at=m["at"],
        actor=m["actor"],
        event=m["event"],
        from_state=m["from_state"],
        to_state=m["to_state"],
        data_changes=m["data_changes"] or {},
        comment=m["comment"],
        kind=m["kind"],
        hash=m["hash"],
        prev_hash=m["prev_hash"],
        detail=m["detail"] or {},
    )


def open_counts(conn: Connection, only: ColumnElement[bool] | None = None) -> dict[str, int]:
    """Open cases per workflow (those matching ``only``, when given)."""
    query = select(tables.cases.c.workflow, func.count()).where(tables.cases.c.closed.is_(False))
    if only is not None:
        query = query.where(only)
    rows = conn.execute(query.group_by(tables.cases.c.workflow)).all()
    return {w: int(n) for w, n in rows}
