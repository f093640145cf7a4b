"""Built-in metric calculators (SPEC §2.5): count, sum, ratio and the helpers they share.

Event-table calculators read a named source with DuckDB in-process; every user value is
bound as a query parameter, column names are quoted identifiers. Days are UTC calendar
days and ``start``/``end`` windows include both ends. The KPI calculators live beside
this module (``kpi_activity``, ``kpi_cohorts``, ``kpi_finance``); all of them are
registered by this module's ``register_calculators`` hook, the one a third party uses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

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

Number = int | float | Decimal | Fraction


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


def parse_window(value: Any) -> timedelta:
    """A duration (``30d``, ``12h``, ``P1W``) as a timedelta; anything else is refused."""
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value
    from opsflow.language.durations import parse_duration

    return parse_duration(value)


Day = Annotated[date, BeforeValidator(parse_day)]
Window = Annotated[timedelta, BeforeValidator(parse_window)]
# Marked for the workflow checks: a source of the configuration; a number, field or metric.
SourceName = Annotated[str, Field(json_schema_extra={"opsflow": "source"})]
Operand = Annotated[Any, Field(json_schema_extra={"opsflow": "operand"})]


def day_start(day: date) -> datetime:
    """Midnight UTC (naive, like the sources' timestamps) at the start of ``day``."""
    return datetime.combine(day, time())


def day_end(day: date) -> datetime:
    """Midnight UTC after ``day``: a window ending on ``day`` is ``timestamp < day_end``."""
    return datetime.combine(day, time()) + timedelta(days=1) if day < date.max else datetime.max


class Params(BaseModel):
    """Base of the built-in calculators' params: unknown params are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CountParams(Params):
    """Params of ``count``."""

    source: SourceName
    event: str | None = None
    start: Day | None = None
    end: Day | None = None


class SumParams(CountParams):
    """Params of ``sum``."""

    column: str = "value"


class RatioParams(Params):
    """Params of ``ratio``: numbers, field names or metric names."""

    numerator: Operand
    denominator: Operand


def window_clause(opened: OpenedSource, params: CountParams) -> tuple[str, list[Any]]:
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


SqlValues = list[Any] | dict[str, Any]


def fetch(con: duckdb.DuckDBPyConnection, source: str, sql: str, values: SqlValues) -> Any:
    """One value from a query over a source; read errors are Invalid naming the source."""
    import duckdb

    try:
        row = con.execute(sql, values).fetchone()
    except duckdb.Error as exc:
        raise Invalid(f"source '{source}': cannot read it: {_first_line(exc)}") from None
    return None if row is None else row[0]


def stream(
    con: duckdb.DuckDBPyConnection, source: str, sql: str, values: SqlValues
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


@contextmanager
def open_events(
    source: str, ctx: CalculatorContext, *required: str
) -> Iterator[tuple[duckdb.DuckDBPyConnection, OpenedSource]]:
    """A DuckDB connection with the source as the view ``events``, having ``required``."""
    from opsflow.builtins.sources import connect, open_source

    with connect() as con:
        opened = open_source(con, source, ctx.sources, ctx.base_dir)
        opened.require(*required)
        yield con, opened


def fetch_row(
    con: duckdb.DuckDBPyConnection, source: str, sql: str, values: SqlValues
) -> tuple[Any, ...]:
    """The first row of a query over a source (named parameters); errors name the source."""
    from opsflow.builtins.sources import run_query

    rows = run_query(con, source, sql, values)
    return rows[0] if rows else ()


def event_clause(event: str | None, values: dict[str, Any], name: str = "event") -> str:
    """SQL matching rows of ``event`` (TRUE when None), binding it as ``$name``."""
    if event is None:
        return "TRUE"
    values[name] = event
    return f'CAST("event" AS VARCHAR) = ${name}'


def count(params: CountParams, ctx: CalculatorContext) -> int:
    """Rows of the source matching ``event`` within ``start``..``end``."""
    with open_events(params.source, ctx) as (con, opened):
        where, values = window_clause(opened, params)
        return int(fetch(con, params.source, f"SELECT count(*) FROM events WHERE {where}", values))


def sum_(params: SumParams, ctx: CalculatorContext) -> int | float:
    """Sum of ``column`` over the matching rows: exact for integers, correctly rounded else."""
    with open_events(params.source, ctx, params.column) as (con, opened):
        where, values = window_clause(opened, params)
        total = column_total(con, opened, params.column, where, values)
    return float(total) if isinstance(total, Decimal) else total


def column_total(
    con: duckdb.DuckDBPyConnection,
    opened: OpenedSource,
    column: str,
    where: str,
    values: SqlValues,
) -> int | float | Decimal:
    """Sum of ``column`` over the rows of the opened source matching ``where``.

    Integers are summed exactly, floats with ``math.fsum`` (correctly rounded, whatever
    the row order), decimals and number-like text exactly as ``Decimal``.
    """
    from opsflow.builtins.sources import quote_identifier

    source = opened.name
    quoted = quote_identifier(column)
    type_name = opened.columns[column].upper()
    if type_name in _INTEGER_TYPES or type_name.startswith("DECIMAL"):
        total = fetch(con, source, f"SELECT sum({quoted}) FROM events WHERE {where}", values)
        if total is None:
            return 0
        return total if isinstance(total, Decimal) else int(total)
    sql = f"SELECT {quoted} FROM events WHERE ({where}) AND {quoted} IS NOT NULL"
    rows = stream(con, source, sql, values)
    if type_name in _FLOAT_TYPES:
        return math.fsum(rows)
    if type_name == "VARCHAR":
        return sum((_decimal(v, source, column) for v in rows), Decimal())
    raise Invalid(f"source '{source}': column '{column}' is {type_name}, not a number")


def _decimal(text: str, source: str, column: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise Invalid(f"source '{source}': column '{column}' has {text!r}, not a number") from None


def ratio(params: RatioParams, ctx: CalculatorContext) -> float | None:
    """numerator ÷ denominator (None when the denominator is 0 or either side is unset)."""
    numerator = operand("numerator", params.numerator, ctx.case)
    denominator = operand("denominator", params.denominator, ctx.case)
    if numerator is None or denominator is None or denominator == 0:
        return None
    try:
        if isinstance(numerator, int) and isinstance(denominator, int):
            return numerator / denominator  # true division of ints is correctly rounded
        return float(numerator) / float(denominator)
    except OverflowError:  # an operand or the quotient beyond a float (about 1.8e308)
        raise Invalid(
            f"{params.numerator} ÷ {params.denominator} is too large for a number "
            f"(the largest is about 1.8e308)"
        ) from None


def quotient(numerator: Number, denominator: Number) -> float | None:
    """numerator ÷ denominator computed exactly, then rounded once (None when ÷ 0)."""
    if denominator == 0:
        return None
    return float(Fraction(numerator) / Fraction(denominator))


def operand(side: str, value: Any, case: Mapping[str, Any]) -> int | float | Decimal | None:
    """A number, or the value of the field (``case.data``) or metric it names."""
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
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(f"{side} {name} is not a finite number: {value!r}")
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


# The KPI calculators by module: registered by name, imported on first use (their modules
# build pydantic models and use DuckDB, which a command that computes nothing need not load).
KPI_MODULES: dict[str, tuple[str, ...]] = {
    "opsflow.builtins.kpi_activity": ("dau", "mau", "stickiness", "growth_rate"),
    "opsflow.builtins.kpi_cohorts": ("retention", "cohort_retention", "conversion_rate", "funnel"),
    "opsflow.builtins.kpi_finance": ("roi", "budget_burn", "nps", "ab_test"),
}


class _Deferred:
    """One KPI calculator of a module imported on first use: the function and its params."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self.__name__ = self.__qualname__ = name
        self.__doc__ = f"The built-in {name} calculator ({module}), imported on first use."

    def load(self) -> tuple[Callable[..., Any], type[BaseModel]]:
        import importlib

        table = importlib.import_module(self.module).CALCULATORS
        return table[self.name]

    def __call__(self, params: Any, ctx: CalculatorContext) -> Any:
        return self.load()[0](params, ctx)

    def __repr__(self) -> str:
        return f"<calculator {self.module}.{self.name}>"


class _DeferredParams:
    """The params model of a deferred calculator: validation imports the real model."""

    def __init__(self, calculator: _Deferred) -> None:
        self.calculator = calculator

    def model_validate(self, params: Any) -> Any:
        return self.calculator.load()[1].model_validate(params)

    def __getattr__(self, name: str) -> Any:  # model_json_schema, model_fields, ...
        if name.startswith("__") or name == "calculator":
            raise AttributeError(name)
        return getattr(self.calculator.load()[1], name)


@hookimpl
def register_calculators(register: Callable[..., None]) -> None:
    """Register opsflow's built-in calculators: count, sum, ratio and the KPI calculators."""
    for name, (fn, model) in CALCULATORS.items():
        register(name, fn, params_model=model)
    for module, names in KPI_MODULES.items():
        for name in names:
            deferred = _Deferred(module, name)
            register(name, deferred, params_model=_DeferredParams(deferred))
