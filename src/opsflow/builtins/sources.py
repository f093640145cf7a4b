"""Named data sources (SPEC §5) opened as DuckDB views with opsflow's column names.

A source is a file (``path``: CSV, Parquet or JSON lines, chosen by extension or
``format``) or a SQL query (``url`` + ``query``, read through SQLAlchemy into an Arrow
table that DuckDB scans in place; no DuckDB extension is installed or loaded). ``columns``
renames: ``{user_id: customer_id}`` means our ``user_id`` is the source's ``customer_id``.
The ``timestamp`` column is normalised to a naive ``TIMESTAMP`` in UTC (text with an offset
is converted; text without one is taken as UTC; blank text is no timestamp), so UTC
calendar days compare directly.
Every failure is :class:`~opsflow.errors.Invalid` naming the source.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsflow.errors import Invalid

if TYPE_CHECKING:  # duckdb is imported when a source is opened, pyarrow when a query is read
    import duckdb
    import pyarrow as pa

_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_COMPRESSION = (".gz", ".zst")
_OUR_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class OpenedSource:
    """A source opened on a DuckDB connection: the view's name and its column types."""

    name: str
    view: str
    columns: Mapping[str, str]  # our column name -> DuckDB type name

    def require(self, *columns: str) -> None:
        """Raise Invalid unless the source has every one of ``columns``."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise Invalid(
                f"source '{self.name}' has no column {', '.join(repr(c) for c in missing)}"
                f" (columns: {', '.join(self.columns) or 'none'}; rename with `columns:`)"
            )


_DATABASE: tuple[int, duckdb.DuckDBPyConnection] | None = None
_DATABASE_LOCK = threading.RLock()
_PARSED: OrderedDict[str, None] = OrderedDict()  # tables of parsed files, oldest first
_PARSED_FILES = 8


def connect() -> duckdb.DuckDBPyConnection:
    """A new in-process DuckDB connection whose session time zone is UTC.

    Opening an in-memory database costs tens of milliseconds, a cursor on one well under
    one: connections are cursors on one database per process. Sources live in temporary
    tables and views, which belong to their connection alone.
    """
    import duckdb

    global _DATABASE
    with _DATABASE_LOCK:
        if _DATABASE is None or _DATABASE[0] != os.getpid():  # not inherited across fork
            if _DATABASE is None:
                atexit.register(_close_database)
            _DATABASE = (os.getpid(), duckdb.connect(":memory:"))
            _PARSED.clear()
        con = _DATABASE[1].cursor()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _close_database() -> None:
    """Close the process's database before the interpreter tears the bindings down."""
    global _DATABASE
    with _DATABASE_LOCK:
        if _DATABASE is not None:
            _DATABASE[1].close()
            _DATABASE = None
            _PARSED.clear()


def quote_identifier(name: str) -> str:
    """Quote a column or view name for SQL (double quotes doubled; no control characters)."""
    if not name or any(ord(ch) < 32 for ch in name):
        raise Invalid(f"column name {name!r} is not usable")
    return '"' + name.replace('"', '""') + '"'


def source_spec(name: Any, sources: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    """The settings of the source called ``name``, or Invalid listing the known ones."""
    if not isinstance(name, str) or not name:
        raise Invalid(f"a source name is required (known sources: {_known(sources)})")
    spec = sources.get(name)
    if spec is None:
        raise Invalid(f"unknown source '{name}' (known sources: {_known(sources)})")
    if not isinstance(spec, Mapping):
        raise Invalid(f"source '{name}' must be a mapping")
    return spec


def _known(sources: Mapping[str, Any]) -> str:
    return ", ".join(sorted(sources)) or "none configured"


def resolve_path(name: str, spec: Mapping[str, Any], base_dir: Path) -> Path:
    """The source's file, relative paths taken from ``base_dir``; Invalid when missing."""
    raw = spec.get("path")
    if not isinstance(raw, str) or not raw:
        raise Invalid(f"source '{name}' needs a `path` (or `url` and `query`)")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise Invalid(f"source '{name}': file not found: {path}")
    return path


def file_format(name: str, spec: Mapping[str, Any], path: Path) -> str:
    """``csv``, ``parquet`` or ``json``: the ``format`` setting, else the file's extension."""
    given = spec.get("format")
    if given is not None:
        if given not in ("csv", "parquet", "json"):
            raise Invalid(f"source '{name}': format must be csv, parquet or json, not {given!r}")
        return str(given)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes.pop()
    if suffixes and suffixes[-1] in _FORMATS:
        return _FORMATS[suffixes[-1]]
    raise Invalid(
        f"source '{name}': cannot tell the format of {path.name}"
        " (use .csv, .parquet or .jsonl, or set `format`)"
    )


def _renames(name: str, spec: Mapping[str, Any]) -> dict[str, str]:
    """``columns`` as {their column: our column}."""
    columns = spec.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise Invalid(f"source '{name}': `columns` must map our column names to theirs")
    theirs_to_ours: dict[str, str] = {}
    for ours, theirs in columns.items():
        if not isinstance(ours, str) or not _OUR_COLUMN.match(ours):
            raise Invalid(f"source '{name}': column {ours!r} is not an identifier")
        if not isinstance(theirs, str) or not theirs:
            raise Invalid(f"source '{name}': `columns.{ours}` must name a column of the source")
        quote_identifier(theirs)
        theirs_to_ours[theirs] = ours
    return theirs_to_ours


def open_source(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sources: Mapping[str, Mapping[str, Any]],
    base_dir: Path,
    *,
    view: str = "events",
) -> OpenedSource:
    """Create the temporary view ``view`` over the source, with our column names."""
    import duckdb

    spec = source_spec(name, sources)
    renames = _renames(name, spec)
    raw = f"{view}_raw"
    if spec.get("path") is None and spec.get("url") is not None:
        _load_query(con, name, spec, raw)
    else:
        _load_file(con, name, spec, base_dir, raw, renames)
    try:
        described = con.execute(f"SELECT * FROM {quote_identifier(raw)} LIMIT 0")
        raw_columns = [(d[0], str(d[1])) for d in described.description or []]
    except duckdb.Error as exc:
        raise Invalid(f"source '{name}': cannot read it: {_first_line(exc)}") from None
    present = {column for column, _ in raw_columns}
    for theirs, ours in renames.items():
        if theirs not in present:
            raise Invalid(
                f"source '{name}': column '{theirs}' (for {ours}) is not in the source"
                f" (columns: {', '.join(sorted(present))})"
            )
    select, columns = [], {}
    for column, type_name in raw_columns:
        ours = renames.get(column, column)
        if column not in renames and column in renames.values():
            continue  # shadowed: another column of the source plays this part
        expr = quote_identifier(column)
        if ours == "timestamp":
            expr, type_name = _utc_timestamp(expr, type_name.upper()), "TIMESTAMP"
        select.append(f"{expr} AS {quote_identifier(ours)}")
        columns[ours] = type_name
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_identifier(view)} AS "
        f"SELECT {', '.join(select) or '1 AS _empty'} FROM {quote_identifier(raw)}"
    )
    return OpenedSource(name, view, columns)


def _utc_timestamp(expr: str, type_name: str) -> str:
    """SQL turning a timestamp column of ``type_name`` into a naive UTC ``TIMESTAMP``.

    The connection's time zone is UTC, so a naive ``TIMESTAMP`` is already that, and an
    aware one is its microseconds since the epoch (much cheaper per row than a cast through
    the time zone machinery; ±infinity, which has no epoch, still goes through the cast).
    """
    if type_name == "TIMESTAMP":
        return expr
    if type_name == "TIMESTAMP WITH TIME ZONE":
        return f"coalesce(make_timestamp(epoch_us({expr})), CAST({expr} AS TIMESTAMP))"
    if type_name == "VARCHAR":  # blank text is no timestamp
        expr = f"NULLIF(TRIM({expr}), '')"
    return f"CAST(CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"


def _load_file(
    con: duckdb.DuckDBPyConnection,
    name: str,
    spec: Mapping[str, Any],
    base_dir: Path,
    raw: str,
    renames: Mapping[str, str],
) -> None:
    """Load the source's file as ``raw``: a view over Parquet, else a table parsed once.

    Parsing a file is the slow part of a calculator (CSV sniffing), and one step often
    computes several metrics over the same file: a parsed file is kept in the process's
    database, keyed by its path, size and modification time, for the next calculator.
    The connection gets its own copy, so dropping a cached table never disturbs it.
    """
    path = resolve_path(name, spec, base_dir)
    fmt = file_format(name, spec, path)
    if fmt == "parquet":
        _view_parquet_file(con, name, path, raw)
        return
    # DuckDB's CSV timestamp sniffing can drop a "+08:00" offset: read the timestamp
    # column as text and convert it ourselves.
    stamp = next((theirs for theirs, ours in renames.items() if ours == "timestamp"), "timestamp")
    _copy_parsed_file(con, name, path, fmt, stamp, raw)


def _view_parquet_file(con: duckdb.DuckDBPyConnection, name: str, path: Path, raw: str) -> None:
    """Open a Parquet file as the view ``raw``."""
    import duckdb

    # Parquet is typed and columnar: a view scans only the columns and row groups a
    # query needs, far faster than copying every row into a table first.
    literal = "'" + str(path).replace("'", "''") + "'"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote_identifier(raw)} AS"
            f" SELECT * FROM read_parquet({literal})"
        )
    except duckdb.Error as exc:
        raise Invalid(f"source '{name}': cannot read {path}: {_first_line(exc)}") from None


def _parsed_file_table(path: Path, fmt: str, stamp: str) -> str:
    """The cached table's name for one version of a file: its path, size and mtime."""
    stat = path.stat()
    key = hashlib.sha256(
        json.dumps([str(path), stat.st_size, stat.st_mtime_ns, fmt, stamp]).encode()
    ).hexdigest()[:32]
    return f"parsed_{key}"


def _copy_parsed_file(
    con: duckdb.DuckDBPyConnection, name: str, path: Path, fmt: str, stamp: str, raw: str
) -> None:
    """Copy the file's parsed table (parsing it first unless cached) into the table ``raw``."""
    import duckdb

    cached = _parsed_file_table(path, fmt, stamp)
    try:
        with _DATABASE_LOCK:
            if cached in _PARSED:
                _PARSED.move_to_end(cached)
            else:
                _parse_file(con, f"main.{cached}", path, fmt, stamp)
                _PARSED[cached] = None
                while len(_PARSED) > _PARSED_FILES:
                    old, _ = _PARSED.popitem(last=False)
                    con.execute(f"DROP TABLE IF EXISTS main.{old}")
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {quote_identifier(raw)} AS"
                f" SELECT * FROM main.{cached}"
            )
    except duckdb.Error as exc:
        raise Invalid(f"source '{name}': cannot read {path}: {_first_line(exc)}") from None


def _parse_file(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, fmt: str, stamp: str
) -> None:
    """Parse a CSV, Parquet or JSON-lines file into ``table``."""
    import duckdb

    create = f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM "
    if fmt == "parquet":
        con.execute(create + "read_parquet($path)", {"path": str(path)})
    elif fmt == "json":
        con.execute(create + "read_json($path, format = 'auto')", {"path": str(path)})
    else:
        text = "'" + stamp.replace("'", "''") + "'"
        try:
            con.execute(
                create + f"read_csv($path, types = {{{text}: 'VARCHAR'}})", {"path": str(path)}
            )
        except duckdb.BinderException:  # the file has no such column
            con.execute(create + "read_csv($path)", {"path": str(path)})


def _load_query(
    con: duckdb.DuckDBPyConnection, name: str, spec: Mapping[str, Any], raw: str
) -> None:
    """Run the source's SQL query through SQLAlchemy and hand the rows to DuckDB as Arrow."""
    import duckdb

    url, query = spec.get("url"), spec.get("query")
    if not isinstance(url, str) or not isinstance(query, str) or not query.strip():
        raise Invalid(f"source '{name}' needs both `url` and `query`")
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
    except Exception as exc:
        raise Invalid(f"source '{name}': bad url: {type(exc).__name__}") from None
    try:
        with engine.connect() as conn:
            result = conn.exec_driver_sql(query)
            keys = result.keys()
            names = [str(key) for key in keys]
            rows = [tuple(row) for row in result.fetchall()]
    except Exception as exc:
        detail = getattr(exc, "orig", None) or exc
        raise Invalid(f"source '{name}': query failed: {_first_line(detail)}") from None
    finally:
        engine.dispose()
    if len(set(names)) != len(names):
        raise Invalid(f"source '{name}': the query returns duplicate column names: {names}")
    table = arrow_table(names, rows)
    try:
        con.register(raw, table)  # DuckDB scans the Arrow table in place
    except duckdb.Error as exc:
        raise Invalid(
            f"source '{name}': cannot load the query's rows: {_first_line(exc)}"
        ) from None


def arrow_table(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows of Python values as an Arrow table, one typed column each (text when mixed).

    Aware datetimes become naive UTC (naive ones are taken as UTC); a column mixing
    integers and floats or holding decimals is float64; integers past 64 bits are
    DECIMAL(38, 0).
    """
    import pyarrow as pa

    arrays = []
    for i, _ in enumerate(names):
        values = [row[i] for row in rows]
        arrow_type = _arrow_type(values)
        arrays.append(pa.array([_arrow_value(v, arrow_type) for v in values], type=arrow_type))
    return pa.Table.from_arrays(arrays, names=list(names))


def _arrow_type(values: Sequence[Any]) -> pa.DataType:
    """The Arrow type for a column of Python values."""
    import pyarrow as pa

    kinds = {_kind(v) for v in values if v is not None}
    if kinds == {"int", "float"}:
        kinds = {"float"}
    if len(kinds) != 1:
        return pa.string()
    kind = kinds.pop()
    if kind == "int":
        if all(-(2**63) <= v < 2**63 for v in values if v is not None):
            return pa.int64()
        if all(abs(v) < 10**38 for v in values if v is not None):
            return pa.decimal128(38, 0)
        return pa.string()
    return {
        "bool": pa.bool_(),
        "float": pa.float64(),
        "datetime": pa.timestamp("us"),
        "date": pa.date32(),
    }.get(kind, pa.string())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float | Decimal):
        return "float"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    return "text"


def _arrow_value(value: Any, arrow_type: pa.DataType) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if arrow_type == pa.string():
        return value if isinstance(value, str) else str(value)
    if arrow_type == pa.float64():
        return float(value)
    if isinstance(arrow_type, pa.Decimal128Type):
        return Decimal(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def run_query(
    con: duckdb.DuckDBPyConnection,
    source: str,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] = (),
) -> list[tuple[Any, ...]]:
    """Run SQL over an opened source; DuckDB errors become Invalid naming the source."""
    import duckdb

    values = dict(params) if isinstance(params, Mapping) else list(params)
    try:
        return con.execute(sql, values).fetchall()
    except duckdb.Error as exc:
        raise Invalid(f"source '{source}': cannot read it: {_first_line(exc)}") from None


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "OpenedSource",
    "arrow_table",
    "connect",
    "file_format",
    "open_source",
    "quote_identifier",
    "resolve_path",
    "run_query",
    "source_spec",
]
