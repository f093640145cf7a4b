"""Search (SPEC §7.4): filters compiled to one SQL statement over ``cases``, keyset pages.

Every filter is answered by the database (JSON operators on SQLite and PostgreSQL); no case
is loaded into Python to be filtered. Pages are keyset-paginated on the sort column and the
case id, with an opaque cursor: base64url of ``[sort, last key, last id]``, checked when
read back. Only the cases the actor may read are found
(:func:`opsflow.engine.access.readable_clause`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, literal_column, or_, select
from sqlalchemy.engine import Connection

from opsflow.clock import in_zone
from opsflow.config import project_zone
from opsflow.core.results import Case, DeadlineView
from opsflow.engine import access, persist
from opsflow.engine.where_sql import FieldKinds, compile_where, raw_text_sql
from opsflow.errors import Damaged, InvalidQuery, NotFound, OpsflowError
from opsflow.language.models import FieldSpec
from opsflow.store import tables
from opsflow.store.rows import RawSelect, converted_rows, raw_rows

# What search needs of the engine: its definitions, and what deciding readers needs.
CaseEngine = access.Reader

MAX_LIMIT = 200  # cases per page
MAX_Q = 200  # characters of ``q``
MAX_CURSOR = 400  # characters of a cursor
SORTS = ("created_at", "-created_at", "updated_at", "-updated_at", "id", "-id")
TEXT_TYPES = frozenset({"string", "text"})  # the fields ``q`` looks in
_CASE_ID = re.compile(r"[0-9A-Za-z_-]{1,32}")


@dataclass(frozen=True)
class SearchQuery:
    """What to look for; every filter given must hold (they are joined by AND)."""

    workflow: str | None = None
    states: tuple[str, ...] = ()
    open: bool | None = None
    assignee: str | None = None  # cases.assignee
    created_after: datetime | None = None  # created_at >= this
    created_before: datetime | None = None  # created_at < this
    q: str | None = None  # text in the case's string/text fields, case-insensitive
    where: str | None = None  # comparisons of fields with literals (where_sql)
    sort: str = "-created_at"  # created_at|updated_at|id, '-' for descending
    limit: int = 50  # 1..MAX_LIMIT
    cursor: str | None = None  # the previous page's next_cursor


@dataclass(frozen=True)
class SearchPage:
    """One page of cases, and the cursor of the next one (None on the last page)."""

    items: list[Case]
    next_cursor: str | None
    unreadable: list[str] = field(default_factory=list)  # damaged rows left out, named

    def to_json(self) -> dict[str, Any]:
        return {"items": [case.to_json() for case in self.items], "next_cursor": self.next_cursor}


# -- compiling ---------------------------------------------------------------------------


def field_kinds(engine: CaseEngine, workflow: str | None) -> FieldKinds:
    """The fields ``where`` and ``q`` may use: the workflow's, else every current workflow's."""
    return FieldKinds.of(workflow_fields(engine, workflow))


def workflow_fields(engine: CaseEngine, workflow: str | None) -> dict[str, Mapping[str, FieldSpec]]:
    definitions = engine.definitions
    ids = definitions.ids()
    if workflow is not None:
        ids = [workflow] if workflow in ids else []
    return {wid: definitions.loaded(wid).spec.fields for wid in ids}


def filters(
    engine: CaseEngine, query: SearchQuery, conn: Connection, actor: str
) -> tuple[list[ColumnElement[bool]], bool]:
    """The WHERE clauses of ``query`` (not its cursor), the reader's included; and whether
    the plan must go by a field's index (see ``_unindexed``)."""
    dialect = conn.dialect.name
    found: list[ColumnElement[bool]] = []
    plain = _column
    if (query.where and query.where.strip()) or query.q:
        workflows, kinds = _fields(engine, query.workflow)
        if query.where and query.where.strip():
            where = (query.where, project_zone(engine.settings))
            clause, by_index = _where(engine, query.workflow, where, kinds, dialect)
            found.append(clause)
            if by_index:
                # SQLite plans without statistics: it takes an equality on an indexed column
                # (workflow, state, closed), or the sort column's index with the LIMIT,
                # over a range on the field's index, and then reads case after case when
                # few match. A unary + keeps those columns out of the choice: the field's
                # index finds the matches, which are then sorted (as PostgreSQL, with
                # statistics, chooses for a selective filter).
                plain = _unindexed
        if query.q:
            found.append(_text_clause(query.q, workflows, dialect))
    if query.workflow is not None:
        found.append(plain("workflow") == query.workflow)
    if query.states:
        state = plain("state")
        found.append(
            state == query.states[0] if len(query.states) == 1 else state.in_(query.states)
        )
    if query.open is not None:
        found.append(plain("closed").is_(not query.open))
    if query.assignee is not None:
        found.append(plain("assignee") == query.assignee)
    zone = project_zone(engine.settings)  # a time typed without an offset is read there
    if query.created_after is not None:
        found.append(plain("created_at") >= _utc(query.created_after, zone))
    if query.created_before is not None:
        found.append(plain("created_at") < _utc(query.created_before, zone))
    readable = access.readable_clause(engine, actor, conn)
    if readable is not None:
        found.append(readable)
    return found, plain is _unindexed


# Compiled once per engine's definitions (they do not change while it runs): a request
# that repeats a where, or names a workflow, does not parse or collect fields again.
_MEMO: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
MEMO_SIZE = 512


def _memo(engine: CaseEngine, key: tuple[Any, ...], make: Any) -> Any:
    memo = _MEMO.get(engine.definitions)
    if memo is None:
        memo = _MEMO.setdefault(engine.definitions, {})
    found = memo.get(key)
    if found is None:
        found = make()
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = found
    return found


def _fields(
    engine: CaseEngine, workflow: str | None
) -> tuple[dict[str, Mapping[str, FieldSpec]], FieldKinds]:
    """The fields ``where`` and ``q`` may use, and their kinds (NotFound: no such workflow)."""

    def make() -> tuple[dict[str, Mapping[str, FieldSpec]], FieldKinds]:
        workflows = workflow_fields(engine, workflow)
        if workflow is not None and not workflows:
            raise NotFound(f"no workflow '{workflow}' to search the fields of")
        return workflows, FieldKinds.of(workflows)

    found: tuple[dict[str, Mapping[str, FieldSpec]], FieldKinds] = _memo(
        engine, ("fields", workflow), make
    )
    return found


def _where(
    engine: CaseEngine,
    workflow: str | None,
    where: tuple[str, tzinfo],
    kinds: FieldKinds,
    dialect: str,
) -> tuple[ColumnElement[bool], bool]:
    """The clause of ``where``, and whether SQLite must go by a field's index (it reads one)."""

    def make() -> tuple[ColumnElement[bool], bool]:
        clause, by_index = compile_where(where[0], kinds, dialect, where[1])
        return clause, dialect == "sqlite" and by_index

    found: tuple[ColumnElement[bool], bool] = _memo(
        engine, ("where", workflow, where, dialect), make
    )
    return found


def _column(name: str) -> ColumnElement[Any]:
    return tables.cases.c[name]


def _unindexed(name: str) -> ColumnElement[Any]:
    """``+cases.NAME``: the column's value, which SQLite does not look up in an index."""
    return literal_column(f"+cases.{name}", type_=tables.cases.c[name].type)


def _text_clause(
    q: str, workflows: Mapping[str, Mapping[str, FieldSpec]], dialect: str
) -> ColumnElement[bool]:
    """``q`` as a case-insensitive substring of any string or text field (LIKE, escaped)."""
    if len(q) > MAX_Q:
        raise InvalidQuery(f"q is too long ({len(q):,} characters, limit {MAX_Q})")
    names = sorted(
        {
            name
            for fields in workflows.values()
            for name, spec in fields.items()
            if spec.type in TEXT_TYPES
        }
    )
    if not names:
        return and_(literal_column("1") == 0)
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(
        *(literal_column(raw_text_sql(dialect, name)).ilike(pattern, escape="\\") for name in names)
    )


def check(query: SearchQuery, *, paged: bool = True) -> None:
    """Refuse a sort, limit or filter the search cannot run (InvalidQuery)."""
    if query.sort not in SORTS:
        raise InvalidQuery(f"unknown sort '{query.sort}'", [f"sort is one of: {', '.join(SORTS)}"])
    if paged and not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be 1 to {MAX_LIMIT}, got {query.limit}")
    for text, what in ((query.workflow, "workflow"), (query.assignee, "assignee")):
        if text is not None and (len(text) > 200 or not text.isprintable()):
            raise InvalidQuery(f"{what} must be 1 to 200 printable characters")
    if len(query.states) > 100 or any(len(s) > 100 or not s.isprintable() for s in query.states):
        raise InvalidQuery("at most 100 states of at most 100 printable characters each")
    for text, what in ((query.q, "q"), (query.where, "where"), (query.cursor, "cursor")):
        if text is not None:
            check_text(text, what)


def check_text(text: str, what: str) -> None:
    """Refuse text no database takes as a parameter: NUL, or not valid Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidQuery(f"{what} is not valid UTF-8 text") from None
    if "\x00" in text:
        raise InvalidQuery(f"{what} holds a NUL character")


# -- sorting and cursors -------------------------------------------------------------------


def encode_cursor(sort: str, key: datetime | str, case_id: str) -> str:
    """The opaque cursor after (key, id) in ``sort`` order."""
    shown = key.astimezone(UTC).isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([sort, shown, case_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> tuple[datetime | str, str]:
    """(key, id) of a cursor made for ``sort``; InvalidQuery when it is not one."""
    bad = InvalidQuery(
        "invalid cursor", ["pass the next_cursor of the previous page, with the same sort"]
    )
    if len(cursor) > MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, key, case_id = json.loads(raw.decode())
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise bad from None
    if made_for != sort or not isinstance(case_id, str) or not _CASE_ID.fullmatch(case_id):
        raise bad
    if sort.lstrip("-") == "id":
        if key != case_id:
            raise bad
        return case_id, case_id
    try:
        moment = datetime.fromisoformat(key) if isinstance(key, str) else None
        if moment is None or moment.tzinfo is None:
            raise bad
        return moment.astimezone(UTC), case_id
    except (ValueError, OverflowError):  # not a time, or beyond year 1–9999 in UTC
        raise bad from None


def _after(sort: str, column: ColumnElement[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor's (key, id) in ``sort`` order (index-friendly: a
    bound, then the tie). The key and id are bound parameters, ``cursor_key`` and
    ``cursor_id`` (:func:`_cursor_params`): one statement serves every page."""
    descending = sort.startswith("-")
    ident = tables.cases.c.id
    case_id = bindparam("cursor_id", type_=ident.type)
    if sort.lstrip("-") == "id":
        return ident < case_id if descending else ident > case_id
    key = bindparam("cursor_key", type_=column.type)
    if descending:
        return and_(column <= key, or_(column < key, ident < case_id))
    return and_(column >= key, or_(column > key, ident > case_id))


def statement(
    engine: CaseEngine,
    query: SearchQuery,
    conn: Connection,
    actor: str,
    limit: int | None,
    ids_only: bool = False,
) -> Select[Any]:
    """The SELECT of ``query``'s cases (or ids) in its order, cursor applied, ``limit`` rows.

    When SQLite goes by a field's index, the page's ids are chosen first from that index
    alone (it holds the field, ``created_at``, ``id`` and ``workflow``), then only those
    rows are read: sorting whole rows (their data) of every match would cost far more.
    """
    cases = tables.cases
    where, by_field_index = filters(engine, query, conn, actor)
    name = query.sort.lstrip("-")
    column = _unindexed(name) if by_field_index else cases.c[name]
    if query.cursor:
        where.append(_after(query.sort, column))
    page_columns = [cases.c[column_name] for column_name in CASE_COLUMNS]
    chosen = select(*([cases.c.id] if ids_only or by_field_index else page_columns))
    chosen = chosen.where(*where).order_by(*_order(query.sort, column)).limit(limit)
    if ids_only or not by_field_index:
        return chosen
    outer = select(*page_columns).where(cases.c.id.in_(chosen))
    return outer.order_by(*_order(query.sort, cases.c[name]))


# What a listed case shows (not its actors, rules or hash chain: nothing to decode for them).
CASE_COLUMNS = (
    "id", "workflow", "version", "state", "data", "metrics", "created_by", "created_at",
    "updated_at", "entered_at", "closed", "row_version", "assignee",
)  # fmt: skip


def _order(sort: str, column: ColumnElement[Any]) -> list[Any]:
    """ORDER BY ``column`` (the sort key) in ``sort``'s direction, then by id for ties."""
    descending = sort.startswith("-")
    ident = tables.cases.c.id
    if sort.lstrip("-") == "id":
        return [column.desc() if descending else column.asc()]
    if descending:
        return [column.desc(), ident.desc()]
    return [column.asc(), ident.asc()]


# -- running -------------------------------------------------------------------------------


def _cursor_params(query: SearchQuery) -> dict[str, Any]:
    """The values of the cursor's bound parameters (none without a cursor); InvalidQuery
    when it is not a cursor of this sort."""
    if not query.cursor:
        return {}
    key, case_id = decode_cursor(query.cursor, query.sort)
    return (
        {"cursor_id": case_id}
        if query.sort.lstrip("-") == "id"
        else {
            "cursor_key": key,
            "cursor_id": case_id,
        }
    )


def page_statement(
    engine: CaseEngine, query: SearchQuery, conn: Connection, actor: str
) -> RawSelect:
    """The page's SELECT (``limit + 1`` rows), made once per query but its cursor's values.

    A request that repeats a search (the next page, or the same filters again) reuses the
    statement object: nothing is built, and SQLAlchemy finds its compiled SQL without
    working out the cache key again. Only when the actor may read every case: otherwise
    the readers' clause, which names the actor, is built for the request.
    """
    limit = query.limit + 1
    if access.restricts(engine, conn, actor):
        return RawSelect.of(statement(engine, query, conn, actor, limit))
    shape = replace(query, cursor="*" if query.cursor else None)  # its values are bound

    def make() -> RawSelect:
        return RawSelect.of(statement(engine, shape, conn, actor, limit), reused=True)

    found: RawSelect = _memo(engine, ("page", conn.dialect.name, shape), make)
    return found


def search_page(engine: CaseEngine, conn: Connection, query: SearchQuery, actor: str) -> SearchPage:
    """One page of ``query``, with the deadlines of its cases (one more query)."""
    prepared, raws, unreadable = page_rows(engine, conn, query, actor)
    found, damaged = converted_rows(conn, prepared, raws)
    unreadable.extend(str(problem) for _raw, problem in damaged)
    rows = []
    for values in found:
        try:
            rows.append(listed_case(values))
        except Damaged as problem:
            unreadable.append(str(problem))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    deadlines = pending_deadlines(engine, conn, [(r.id, r.workflow, r.version) for r in rows])
    for row in rows:
        row.deadlines.extend(deadlines.get(row.id, ()))
    next_cursor = None
    if more and rows:
        last = rows[-1]
        name = query.sort.lstrip("-")
        key = last.id if name == "id" else getattr(last, name)
        next_cursor = encode_cursor(query.sort, key, last.id)
    return SearchPage(rows, next_cursor, unreadable)


def page_rows(
    engine: CaseEngine, conn: Connection, query: SearchQuery, actor: str
) -> tuple[RawSelect, Sequence[Any], list[str]]:
    """The page's statement, its rows as the driver returns them (``limit + 1`` at most,
    columns :data:`CASE_COLUMNS`), and the rows that could not be fetched, named."""
    check(query)
    params = _cursor_params(query)
    prepared = page_statement(engine, query, conn, actor)
    raws, damaged = raw_rows(conn, prepared, params)
    return prepared, raws, [str(problem) for _raw, problem in damaged]


def pending_deadlines(
    engine: CaseEngine, conn: Connection, cases: list[tuple[str, str, int]]
) -> dict[str, list[DeadlineView]]:
    """The pending deadlines of ``cases`` (id, workflow, version) by case: not asked for
    when none of their versions has an SLA or a timer."""
    versions = {(workflow, version) for _id, workflow, version in cases}
    if not any(_has_deadlines(engine, conn, *version) for version in versions):
        return {}
    return persist.pending_deadlines_by_case(conn, [case_id for case_id, _w, _v in cases])


def listed_case(values: dict[str, Any]) -> Case:
    """A listed case from its decoded columns (as ``status`` shows it, without events)."""
    data, metrics = values["data"], values["metrics"]
    if not isinstance(data, dict) or not isinstance(metrics, dict):
        raise Damaged(
            f"damaged data: case {values.get('id')!r} has data or metrics that are not "
            "JSON objects; run 'opsflow audit verify'"
        )
    shown = {name: d.get("value") if isinstance(d, dict) else None for name, d in metrics.items()}
    # Every field set at once, as Case(...) would set them one by one (its frozen __init__
    # costs a few microseconds a case, a page's 51 cases a quarter of a millisecond).
    case = object.__new__(Case)
    case.__dict__.update(
        id=values["id"],
        workflow=values["workflow"],
        version=values["version"],
        state=values["state"],
        data=data,
        metrics=shown,
        metric_details=metrics,
        created_by=values["created_by"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        entered_at=values["entered_at"],
        closed=values["closed"],
        row_version=values["row_version"],
        assignee=values["assignee"],
        deadlines=[],
        events=[],
        title=None,
        incidents=[],
    )
    return case


def _has_deadlines(engine: CaseEngine, conn: Connection, workflow: str, version: int) -> bool:
    """Whether cases of this version can have pending deadlines (an SLA or a timer): if none
    can, a page skips asking for them (a migration cancels the old version's)."""
    try:
        return bool(engine.definitions.pinned(conn, workflow, version).deadlines)
    except OpsflowError:
        return True  # a version that no longer loads: ask the table


def search_ids(
    engine: CaseEngine, conn: Connection, query: SearchQuery, actor: str, cap: int
) -> list[str]:
    """The ids of ``query``'s cases in its order, at most ``cap + 1`` (no page limit)."""
    check(query, paged=False)
    params = _cursor_params(query)
    sql = statement(engine, query, conn, actor, cap + 1, ids_only=True)
    return list(conn.execute(sql, params).scalars())


def search_count(engine: CaseEngine, conn: Connection, query: SearchQuery, actor: str) -> int:
    """How many cases ``query`` finds (cursor and limit ignored)."""
    check(query, paged=False)
    where, _by_field_index = filters(engine, query, conn, actor)
    sql = select(func.count()).select_from(tables.cases).where(*where)
    return int(conn.execute(sql).scalar_one())


def _utc(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` in UTC; a naive one is a time in ``zone`` (the project's time zone)."""
    try:
        return in_zone(moment, zone).astimezone(UTC)
    except OverflowError:  # year 1 or 9999 on the zone's clocks: the end of time either way
        return moment.replace(tzinfo=UTC)


__all__ = [
    "MAX_LIMIT",
    "SORTS",
    "SearchPage",
    "SearchQuery",
    "decode_cursor",
    "encode_cursor",
    "field_kinds",
    "search_count",
    "search_ids",
    "search_page",
]
