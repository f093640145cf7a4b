"""Reading rows one at a time, so one damaged row does not hide every other one.

A listing or the audit reads many rows. Core converts them all as it fetches, and one value
opsflow cannot read (a hand-edited ``data`` that is not JSON, a ``due_at`` that is not a
time, bytes that are not UTF-8) would fail the whole query. Here the query fetches the raw
column values and each row is converted on its own: the readable rows are returned, and
the others are named with the column that could not be read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, type_coerce
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import NullType

from opsflow.errors import Damaged
from opsflow.store import dialects
from opsflow.store.prepared import Prepared, column_name, raise_driver_error, unreadable

Unreadable = tuple[dict[str, Any], Damaged]  # the row's raw values by column, and why


@dataclass(frozen=True)
class RawSelect:
    """A query and its raw twin (the same SELECT, values unconverted), made once.

    A caller that runs the same statement again (with other bound parameters) keeps one
    and passes it to :func:`readable_rows`: neither is rebuilt, and SQLAlchemy reuses the
    compiled SQL without working out the statement's cache key again.
    """

    query: Select[Any]
    raw: Any  # a Select of the same columns, typed NullType
    names: list[str]
    keys: list[str]
    processors: dict[str, list[Any]] = field(default_factory=dict, compare=False)  # by dialect
    # Run again and again (kept by the caller): the raw twin is compiled once to run on
    # the driver's cursor (``drivers``, by dialect; None when Core must run it).
    reused: bool = False
    drivers: dict[str, Prepared | None] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, query: Select[Any], *, reused: bool = False) -> RawSelect:
        columns = list(query.selected_columns)
        raw = query.with_only_columns(*(type_coerce(c, NullType()).label(c.name) for c in columns))
        names, keys = [column_name(c) for c in columns], [c.name for c in columns]
        return cls(query, raw, names, keys, reused=reused)


def readable_rows(
    conn: Connection,
    query: Select[Any] | RawSelect,
    params: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[Unreadable]]:
    """The rows of ``query`` as dicts by column name, and the raw values of unreadable ones.

    ``query`` selects whole columns of one table that has an ``id`` column; ``params``
    are the values of its named bound parameters, if any.
    """
    prepared = query if isinstance(query, RawSelect) else RawSelect.of(query)
    raws, damaged = raw_rows(conn, prepared, params)
    found, unconverted = converted_rows(conn, prepared, raws)
    return found, damaged + unconverted


def raw_rows(
    conn: Connection,
    prepared: RawSelect,
    params: Mapping[str, Any] | None = None,
) -> tuple[Sequence[Any], list[Unreadable]]:
    """The rows of ``prepared`` with their values as the driver returns them, and those
    that cannot be fetched at all (a stored text that is not UTF-8).

    A ``reused`` statement runs on the driver's cursor when it can; one made for a single
    run goes through Core, whose cache finds its compiled SQL.
    """
    try:
        if prepared.reused:
            return _fetch(conn, prepared, params), []
        return conn.execute(prepared.raw, params).all(), []
    except DBAPIError as exc:
        if not dialects.is_undecodable_text(exc):
            raise
        raws, _found, damaged = _one_by_one(
            conn, prepared.query, prepared.raw, prepared.names, params
        )
        return raws, damaged


def converted_rows(
    conn: Connection, prepared: RawSelect, raws: Sequence[Any]
) -> tuple[list[dict[str, Any]], list[Unreadable]]:
    """Raw rows of ``prepared`` converted as Core converts them, each on its own."""
    names, keys = prepared.names, prepared.keys
    processors = prepared.processors.get(conn.dialect.name)
    if processors is None:
        columns = prepared.query.selected_columns
        processors = [column_processor(c.type, conn.dialect) for c in columns]
        prepared.processors[conn.dialect.name] = processors
    found: list[dict[str, Any]] = []
    damaged: list[Unreadable] = []
    for raw in raws:
        try:
            values = [
                value if proc is None else proc(value)
                for proc, value in zip(processors, raw, strict=True)
            ]
        except (ValueError, TypeError) as exc:
            error = _first_unreadable(names, processors, raw, exc)
            damaged.append((dict(zip(keys, raw, strict=True)), error))
            continue
        found.append(dict(zip(keys, values, strict=True)))
    return found, damaged


def _fetch(conn: Connection, prepared: RawSelect, params: Mapping[str, Any] | None) -> Any:
    """The raw rows, on the driver's cursor when the statement can run there: Core's
    execution around a page's query (execution context, result metadata, its own
    transaction begun and committed) costs more than converting the page's rows."""
    dialect = conn.dialect
    driver = prepared.drivers.get(dialect.name, _UNKNOWN)
    if driver is _UNKNOWN:
        driver = _on_driver(prepared.raw, dialect)
        prepared.drivers[dialect.name] = driver
    if driver is None:
        return conn.execute(prepared.raw, params).all()
    values = driver.params(params or {})
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(driver.sql, values)
        return cursor.fetchall()
    except dialect.loaded_dbapi.Error as exc:
        raise_driver_error(conn, driver.sql, values, exc)
    finally:
        cursor.close()


_UNKNOWN: Any = object()


def _on_driver(raw: Any, dialect: Dialect) -> Prepared | None:
    """``raw`` compiled once for the driver, if its parameters are plain: positional, none
    expanded per execution (an IN list), none whose name the dialect must escape. Else
    None, and Core runs it."""
    if not dialect.positional:
        return None
    compiled = raw.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    return Prepared(raw, dialect)


def column_processor(type_: Any, dialect: Dialect) -> Any:
    """The column's result processor: the type's own fast one if it has one (UTCDateTime
    on SQLite: the same aware datetime, parsed without SQLAlchemy's regex), else Core's."""
    fast = getattr(type_, "fast_result_processor", None)
    if fast is not None:
        return fast(dialect)
    return type_.dialect_impl(dialect).result_processor(dialect, None)


def _first_unreadable(
    names: list[str], processors: list[Any], raw: Sequence[Any], exc: Exception
) -> Damaged:
    for i, (proc, value) in enumerate(zip(processors, raw, strict=True)):
        if proc is None:
            continue
        try:
            proc(value)
        except (ValueError, TypeError) as error:
            return unreadable(names, raw, i, error)
    return unreadable(names, raw, 0, exc)


def _one_by_one(
    conn: Connection,
    query: Select[Any],
    raw_query: Any,
    names: list[str],
    params: Mapping[str, Any] | None = None,
) -> tuple[list[Any], list[dict[str, Any]], list[Unreadable]]:
    """Rows fetched by id, for when a stored text is not UTF-8 and fails the whole fetch."""
    id_column = next((c for c in query.selected_columns if c.name == "id"), None)
    if id_column is None:
        table = names[0].partition(".")[0]
        raise Damaged(f"damaged data: {table} holds text that is not UTF-8")
    ids = conn.execute(query.with_only_columns(id_column), params).scalars().all()
    raws: list[Any] = []
    damaged: list[Unreadable] = []
    for row_id in ids:
        try:
            raws.append(conn.execute(raw_query.where(id_column == row_id), params).one())
        except DBAPIError as exc:
            if not dialects.is_undecodable_text(exc):
                raise
            reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            table = names[0].partition(".")[0]
            error = Damaged(
                f"damaged data: {table} (id {row_id!r}) holds text that is not UTF-8 "
                f"({reason}); run 'opsflow audit verify' to list the damaged rows"
            )
            damaged.append(({"id": row_id}, error))
    return raws, [], damaged
