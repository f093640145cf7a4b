"""Hot-path statements compiled once per dialect and run on the driver's cursor.

A Core statement executed through ``Connection.execute`` costs tens of microseconds of
SQLAlchemy bookkeeping (cache key, compiled-cache lookup, execution context, result
metadata) per call, more than SQLite itself needs for a one-row statement. The few
statements every fire runs are compiled here once, with SQLAlchemy's own bind and result
processors of each column type (so values are stored and read back exactly as Core would),
and run on the DBAPI cursor of the caller's connection, inside the caller's transaction.
Driver errors are raised as SQLAlchemy's ``DBAPIError`` subclasses, as Core would raise them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NoReturn, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from opsflow.errors import Damaged

Processor = Callable[[Any], Any] | None
_GIVEN = object()  # the bind's value comes from the caller


def _result_processor(type_: Any, dialect: Dialect) -> Processor:
    fast = getattr(type_, "fast_result_processor", None)
    if fast is not None:
        return fast(dialect)
    return type_.dialect_impl(dialect).result_processor(dialect, None)


class Prepared:
    """One statement compiled for one dialect: its SQL text and per-parameter converters."""

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        *,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        compiled = cast(
            SQLCompiler,
            statement.compile(
                dialect=dialect,
                column_keys=list(column_keys) if column_keys is not None else None,
                for_executemany=True,  # no implicit RETURNING of new primary keys
            ),
        )
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or ()) if self.positional else list(compiled.binds)
        # (name, literal value or _GIVEN, converter): literals of the statement are kept
        self.binds: list[tuple[str, Any, Processor]] = []
        for name in names:
            bind = compiled.binds[name]
            literal = _GIVEN if bind.required or bind.callable else bind.value
            fast = getattr(bind.type, "fast_bind_processor", None)
            processor = (
                fast(dialect)
                if fast is not None
                else bind.type.dialect_impl(dialect).bind_processor(dialect)
            )
            self.binds.append((name, literal, processor))
        columns = getattr(statement, "selected_columns", None)
        self.results: list[Processor] = [_result_processor(c.type, dialect) for c in columns or ()]
        self.columns: list[str] = [column_name(c) for c in columns or ()]
        # Per parameter: (name, None, converter) for a given value, or (None, the converted
        # literal, None) for a literal of the statement, converted once here.
        self._plan: list[tuple[str | None, Any, Processor]] = [
            (name, None, proc)
            if literal is _GIVEN
            else (None, literal if proc is None else proc(literal), None)
            for name, literal, proc in self.binds
        ]
        self._names = [name for name, _l, _p in self.binds]
        self._converted = [(i, proc) for i, proc in enumerate(self.results) if proc is not None]
        # Without literals (the hot writes), the values are taken in one C call and only
        # the parameters with a converter are touched.
        given = [name for name, _c, _p in self._plan if name is not None]
        self._take: Callable[[Mapping[str, Any]], Any] | None = None
        if len(given) == len(self._plan) > 1:
            self._take = itemgetter(*given)
            self._bound = [(i, proc) for i, (_n, _c, proc) in enumerate(self._plan) if proc]

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for ``values`` (keyed by bind name)."""
        if self._take is not None:
            converted = list(self._take(values))
            for i, proc in self._bound:
                converted[i] = proc(converted[i])
        else:
            converted = [
                constant if name is None else values[name] if proc is None else proc(values[name])
                for name, constant, proc in self._plan
            ]
        if self.positional:
            return tuple(converted)
        return dict(zip(self._names, converted, strict=True))

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A fetched row with each column converted as Core converts it."""
        if len(raw) != len(self.results):
            raise ValueError("a row of another shape than the statement's columns")
        values = list(raw)
        try:
            for i, proc in self._converted:
                values[i] = proc(values[i])
        except (ValueError, TypeError) as exc:
            raise unreadable(self.columns, raw, i, exc) from exc
        return tuple(values)


def column_name(column: Any) -> str:
    """``table.column`` for a table's column, else the column's name."""
    name = getattr(column, "name", None) or str(column)
    table = getattr(getattr(column, "table", None), "name", None)
    return f"{table}.{name}" if table else str(name)


def unreadable(columns: Sequence[str], raw: Sequence[Any], index: int, exc: Exception) -> Damaged:
    """The error for a stored value that cannot be read, naming its row and column."""
    keys = [
        f"{c.rpartition('.')[2]} {raw[i]!r}"
        for i, c in enumerate(columns)
        if c.rpartition(".")[2] in ("id", "case_id") and isinstance(raw[i], str | int)
    ]
    where = f" ({', '.join(keys)})" if keys else ""
    value = repr(raw[index])
    shown = value if len(value) <= 40 else value[:37] + "..."
    return Damaged(
        f"damaged data: {columns[index]}{where} holds {shown}, which opsflow cannot read "
        f"({type(exc).__name__}); run 'opsflow audit verify' to list the damaged rows"
    )


class Statement:
    """A statement prepared lazily for each dialect it runs on."""

    def __init__(self, statement: ClauseElement, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = column_keys
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, Prepared] = weakref.WeakKeyDictionary()
        # The last dialect asked for and its form (a weak lookup costs more than the check).
        self._last: tuple[weakref.ref[Dialect] | None, Prepared | None] = (None, None)

    def on(self, conn: Connection) -> Prepared:
        """The form of this statement for ``conn``'s dialect."""
        dialect = conn.dialect
        ref, found = self._last
        if ref is not None and ref() is dialect:
            assert found is not None
            return found
        found = self._by_dialect.get(dialect)
        if found is None:
            found = Prepared(self.statement, dialect, column_keys=self.column_keys)
            self._by_dialect[dialect] = found
        self._last = (weakref.ref(dialect), found)
        return found


def _cursor(conn: Connection) -> Any:
    # The DBAPI connection itself (a plain attribute; ``driver_connection`` is the same
    # object for these sync drivers, found through two properties and a dialect call).
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def raise_driver_error(conn: Connection, sql: str, params: Any, exc: Exception) -> NoReturn:
    """Raise a driver error as Core would: a ``DBAPIError``, the connection invalidated
    when the error means it is gone."""
    gone = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)  # type: ignore[arg-type]
    if gone:
        conn.invalidate(exc)
    raise DBAPIError.instance(
        sql,
        params,
        exc,
        conn.dialect.loaded_dbapi.Error,
        connection_invalidated=gone,
        dialect=conn.dialect,
    ) from exc


def run(conn: Connection, statement: Statement, values: Mapping[str, Any]) -> int:
    """Execute a write statement; the number of rows it changed."""
    prepared = statement.on(conn)
    params = prepared.params(values)
    cursor = _cursor(conn)
    try:
        cursor.execute(prepared.sql, params)
        return int(cursor.rowcount)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise_driver_error(conn, prepared.sql, params, exc)
    finally:
        cursor.close()


def run_many(conn: Connection, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Execute a write statement once per row of ``rows``."""
    if len(rows) == 1:
        run(conn, statement, rows[0])
        return
    prepared = statement.on(conn)
    params = [prepared.params(values) for values in rows]
    cursor = _cursor(conn)
    try:
        cursor.executemany(prepared.sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise_driver_error(conn, prepared.sql, params, exc)
    finally:
        cursor.close()


def fetch(
    conn: Connection, statement: Statement, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Execute a query; its rows, converted."""
    prepared = statement.on(conn)
    params = prepared.params(values)
    cursor = _cursor(conn)
    try:
        cursor.execute(prepared.sql, params)
        raw = cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as exc:
        raise_driver_error(conn, prepared.sql, params, exc)
    finally:
        cursor.close()
    return [prepared.row(r) for r in raw]
