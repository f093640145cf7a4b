"""Built-in metric calculators (SPEC §2.5), registered through the public hook.

Event-table calculators read a named source with DuckDB in-process; every user value is
bound as a query parameter, column names are quoted identifiers. Days are UTC calendar
days and ``start``/``end`` windows include both ends.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from opsflow.errors import Invalid
from opsflow.hookspecs import hookimpl
from opsflow.plugins import CalculatorContext

if TYPE_CHECKING:  # DuckDB is imported when a calculator runs, not when plugins load
    import duckdb

    from opsflow.builtins.sources import OpenedSource

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL"})
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_day(value: Any) -> date:
    """A ``YYYY-MM-DD`` text (or a date) as a date; anything else is refused."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD, got {value!r}")


Day = Annotated[date, BeforeValidator(parse_day)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountParams(_Params):
    """Params of ``count``."""

    source: str
    event: str | None = None
    start: Day | None = None
    end: Day | None = None


class SumParams(CountParams):
    """Params of ``sum``."""

    column: str = "value"


class RatioParams(_Params):
    """Params of ``ratio``: numbers, field names or metric names."""

    numerator: Any
    denominator: Any


def _window(opened: OpenedSource, params: CountParams) -> tuple[str, list[Any]]:
    """The WHERE clause (and its bound values) for ``event``, ``start`` and ``end``."""
    clauses: list[str] = ["TRUE"]
    values: list[Any] = []
    if params.event is not None:
        opened.require("event")
        clauses.append('CAST("event" AS VARCHAR) = ?')
        values.append(params.event)
    if params.start is not None or params.end is not None:
        opened.require("timestamp")
    if params.start is not None:
        clauses.append('"timestamp" >= ?')
        values.append(datetime.combine(params.start, time()))
    if params.end is not None and params.end < date.max:
        clauses.append('"timestamp" < ?')
        values.append(datetime.combine(params.end + timedelta(days=1), time()))
    return " AND ".join(clauses), values


def _fetch(con: duckdb.DuckDBPyConnection, source: str, sql: str, values: list[Any]) -> Any:
    """One value from a query over a source; read errors are Invalid naming the source."""
    import duckdb

    try:
        row = con.execute(sql, values).fetchone()
    except duckdb.Error as exc:
        raise Invalid(f"source '{source}': cannot read it: {_first_line(exc)}") from None
    return None if row is None else row[0]


def _stream(
    con: duckdb.DuckDBPyConnection, source: str, sql: str, values: list[Any]
) -> Iterator[Any]:
    """The first column of a query's rows, fetched in chunks."""
    import duckdb

    try:
        cursor = con.execute(sql, values)
        while chunk := cursor.fetchmany(10_000):
            for row in chunk:
                yield row[0]
    except duckdb.Error as exc:
        raise Invalid(f"source '{source}': cannot read it: {_first_line(exc)}") from None


def count(params: CountParams, ctx: CalculatorContext) -> int:
    """Rows of the source matching ``event`` within ``start``..``end``."""
    from opsflow.builtins.sources import connect, open_source

    with connect() as con:
        opened = open_source(con, params.source, ctx.sources, ctx.base_dir)
        where, values = _window(opened, params)
        return int(_fetch(con, params.source, f"SELECT count(*) FROM events WHERE {where}", values))


def sum_(params: SumParams, ctx: CalculatorContext) -> int | float:
    """Sum of ``column`` over the matching rows: exact for integers, correctly rounded else."""
    from opsflow.builtins.sources import connect, open_source, quote_identifier

    with connect() as con:
        opened = open_source(con, params.source, ctx.sources, ctx.base_dir)
        opened.require(params.column)
        where, values = _window(opened, params)
        column = quote_identifier(params.column)
        type_name = opened.columns[params.column].upper()
        if type_name in _INTEGER_TYPES or type_name.startswith("DECIMAL"):
            total = _fetch(
                con, params.source, f"SELECT sum({column}) FROM events WHERE {where}", values
            )
            if total is None:
                return 0
            return float(total) if isinstance(total, Decimal) else int(total)
        sql = f"SELECT {column} FROM events WHERE {where} AND {column} IS NOT NULL"
        rows = _stream(con, params.source, sql, values)
        if type_name in _FLOAT_TYPES:
            return math.fsum(rows)
        if type_name == "VARCHAR":
            return float(sum((_decimal(v, params.source, params.column) for v in rows), Decimal()))
        raise Invalid(
            f"source '{params.source}': column '{params.column}' is {type_name}, not a number"
        )


def _decimal(text: str, source: str, column: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise Invalid(f"source '{source}': column '{column}' has {text!r}, not a number") from None


def ratio(params: RatioParams, ctx: CalculatorContext) -> float | None:
    """numerator ÷ denominator (None when the denominator is 0 or either side is unset)."""
    numerator = _operand("numerator", params.numerator, ctx.case)
    denominator = _operand("denominator", params.denominator, ctx.case)
    if numerator is None or denominator is None or denominator == 0:
        return None
    if isinstance(numerator, int) and isinstance(denominator, int):
        return numerator / denominator  # true division of ints is correctly rounded
    return float(numerator) / float(denominator)


def _operand(side: str, value: Any, case: Mapping[str, Any]) -> int | float | Decimal | None:
    """A number, or the value of the field or metric it names."""
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        return _number(side, value, value)
    if isinstance(value, str):
        data, metrics = case.get("data") or {}, case.get("metrics") or {}
        if value in data:
            return _number(side, value, data[value])
        if value in metrics:
            found = metrics[value]
            if isinstance(found, Mapping) and "value" in found:
                found = found["value"]
            return _number(side, value, found)
        raise Invalid(f"{side} '{value}' is neither a number, a field nor a metric of the case")
    return _number(side, repr(value), value)


def _number(side: str, name: str, value: Any) -> int | float | Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid(f"{side} {name} is a boolean, not a number")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        return Decimal(value.strip())  # money is stored as "1234.50"
    raise Invalid(f"{side} {name} is not a number: {value!r}")


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


CALCULATORS: dict[str, tuple[Callable[..., Any], type[BaseModel]]] = {
    "count": (count, CountParams),
    "sum": (sum_, SumParams),
    "ratio": (ratio, RatioParams),
}


@hookimpl
def register_calculators(register: Callable[..., None]) -> None:
    """Register opsflow's built-in calculators."""
    for name, (fn, model) in CALCULATORS.items():
        register(name, fn, params_model=model)
