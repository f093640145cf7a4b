"""Named data sources (SPEC §5) opened as DuckDB views with opsflow's column names.

A source is a file (``path``: CSV, Parquet or JSON lines, chosen by extension or
``format``) or a SQL query (``url`` + ``query``, read through SQLAlchemy). ``columns``
renames: ``{user_id: customer_id}`` means our ``user_id`` is the source's ``customer_id``.
The ``timestamp`` column is normalised to a naive ``TIMESTAMP`` in UTC (text with an offset
is converted; text without one is taken as UTC), so UTC calendar days compare directly.
Every failure is :class:`~opsflow.errors.Invalid` naming the source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from opsflow.errors import Invalid

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


def connect() -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB connection whose session time zone is UTC."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


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
            expr, type_name = f"CAST(CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)", "TIMESTAMP"
        select.append(f"{expr} AS {quote_identifier(ours)}")
        columns[ours] = type_name
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_identifier(view)} AS "
        f"SELECT {', '.join(select) or '1 AS _empty'} FROM {quote_identifier(raw)}"
    )
    return OpenedSource(name, view, columns)


def _load_file(
    con: duckdb.DuckDBPyConnection,
    name: str,
    spec: Mapping[str, Any],
    base_dir: Path,
    raw: str,
    renames: Mapping[str, str],
) -> None:
    path = resolve_path(name, spec, base_dir)
    fmt = file_format(name, spec, path)
    try:
        if fmt == "parquet":
            relation = con.read_parquet(str(path))
        elif fmt == "json":
            relation = con.read_json(str(path), format="auto")
        else:
            # DuckDB's CSV timestamp sniffing can drop a "+08:00" offset: read the
            # timestamp column as text and convert it ourselves.
            stamp = next((t for t, o in renames.items() if o == "timestamp"), "timestamp")
            try:
                relation = con.read_csv(str(path), dtype={stamp: "VARCHAR"})
            except duckdb.BinderException:  # the file has no such column
                relation = con.read_csv(str(path))
        relation.create_view(raw, replace=True)
    except duckdb.Error as exc:
        raise Invalid(f"source '{name}': cannot read {path}: {_first_line(exc)}") from None


def _load_query(
    con: duckdb.DuckDBPyConnection, name: str, spec: Mapping[str, Any], raw: str
) -> None:
    """Run the source's SQL query through SQLAlchemy and load the rows into DuckDB."""
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
    types = [_duck_type([row[i] for row in rows]) for i in range(len(names))]
    columns = ", ".join(f"{quote_identifier(n)} {t}" for n, t in zip(names, types, strict=True))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_identifier(raw)} ({columns})")
    if rows:
        marks = ", ".join("?" for _ in names)
        con.executemany(
            f"INSERT INTO {quote_identifier(raw)} VALUES ({marks})",
            [[_duck_value(v, t) for v, t in zip(row, types, strict=True)] for row in rows],
        )


def _duck_type(values: Sequence[Any]) -> str:
    """The DuckDB column type for a column of Python values (text when mixed)."""
    kinds = {_kind(v) for v in values if v is not None}
    if kinds == {"int", "float"}:
        return "DOUBLE"
    if len(kinds) != 1:
        return "VARCHAR"
    kind = kinds.pop()
    return {
        "bool": "BOOLEAN",
        "int": "HUGEINT",
        "float": "DOUBLE",
        "datetime": "TIMESTAMP",
        "date": "DATE",
    }.get(kind, "VARCHAR")


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


def _duck_value(value: Any, type_name: str) -> Any:
    if value is None:
        return None
    if type_name == "VARCHAR":
        return value if isinstance(value, str) else str(value)
    if type_name == "DOUBLE":
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def run_query(
    con: duckdb.DuckDBPyConnection, source: str, sql: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Run SQL over an opened source; DuckDB errors become Invalid naming the source."""
    try:
        return con.execute(sql, list(params)).fetchall()
    except duckdb.Error as exc:
        raise Invalid(f"source '{source}': cannot read it: {_first_line(exc)}") from None


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "OpenedSource",
    "connect",
    "file_format",
    "open_source",
    "quote_identifier",
    "resolve_path",
    "run_query",
    "source_spec",
]
