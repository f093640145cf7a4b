"""Activity KPIs over an event source: dau, mau, stickiness and growth_rate (SPEC §2.5).

A user is active on a day when the source has a row with their ``user_id`` whose
``timestamp`` falls on that UTC calendar day (and, with ``event``, whose event is that
one). Rows without a user or a timestamp are no one's activity. Windows are whole UTC
days and include both ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from opsflow.builtins.calculators import (
    Day,
    Params,
    SourceName,
    column_total,
    day_end,
    day_start,
    event_clause,
    fetch_row,
    open_events,
    quotient,
)
from opsflow.plugins import CalculatorContext

if TYPE_CHECKING:
    import duckdb

    from opsflow.builtins.sources import OpenedSource

MAU_DAYS = 30
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}


class DauParams(Params):
    """Params of ``dau``, ``mau`` and ``stickiness``."""

    source: SourceName
    date: Day
    event: str | None = None


class GrowthParams(Params):
    """Params of ``growth_rate``."""

    source: SourceName
    period: Literal["day", "week", "month"]
    date: Day
    measure: Literal["users", "events", "value"]
    event: str | None = None


def _users_and_user_days(params: DauParams, ctx: CalculatorContext, days: int) -> tuple[int, int]:
    """Distinct users and distinct (user, day) pairs in the ``days`` days ending on date."""
    required = ("user_id", "timestamp") + (("event",) if params.event is not None else ())
    first = params.date - timedelta(days=days - 1)
    values: dict[str, Any] = {"first": day_start(first), "after": day_end(params.date)}
    sql = (
        'WITH active AS (SELECT DISTINCT "user_id", CAST("timestamp" AS DATE) AS day'
        ' FROM events WHERE "user_id" IS NOT NULL'
        ' AND "timestamp" >= $first AND "timestamp" < $after'
        f" AND {event_clause(params.event, values)})"
        ' SELECT count(DISTINCT "user_id"), count(*) FROM active'
    )
    with open_events(params.source, ctx, *required) as (con, _):
        users, user_days = fetch_row(con, params.source, sql, values)
    return int(users), int(user_days)


def dau(params: DauParams, ctx: CalculatorContext) -> int:
    """Distinct users active on ``date`` (a UTC calendar day)."""
    return _users_and_user_days(params, ctx, 1)[0]


def mau(params: DauParams, ctx: CalculatorContext) -> int:
    """Distinct users active in the 30 days ending on ``date`` (date−29 … date)."""
    return _users_and_user_days(params, ctx, MAU_DAYS)[0]


def stickiness(params: DauParams, ctx: CalculatorContext) -> float | None:
    """Mean of the 30 daily DAUs of date−29 … date ÷ MAU of that window (None when MAU is 0).

    The sum of the 30 DAUs is the number of distinct (user, day) pairs, so the result is
    user-days ÷ (30 × MAU), computed exactly and rounded once.
    """
    users, user_days = _users_and_user_days(params, ctx, MAU_DAYS)
    return quotient(user_days, MAU_DAYS * users)


def growth_rate(params: GrowthParams, ctx: CalculatorContext) -> float | None:
    """(this period − previous) ÷ previous over trailing windows (None when previous is 0).

    ``period`` day/week/month is 1/7/30 days; this window is the ``period`` days ending on
    ``date``, the previous one the ``period`` days just before it. ``measure`` is distinct
    users (``users``), rows (``events``) or the sum of the ``value`` column (``value``).
    """
    days = PERIOD_DAYS[params.period]
    this_first = params.date - timedelta(days=days - 1)
    previous_first = this_first - timedelta(days=days)
    previous_last = this_first - timedelta(days=1)
    required = ["timestamp"] + (["event"] if params.event is not None else [])
    required.append({"users": "user_id", "events": "timestamp", "value": "value"}[params.measure])
    with open_events(params.source, ctx, *required) as (con, opened):
        current = _measure(con, opened, params, this_first, params.date)
        previous = _measure(con, opened, params, previous_first, previous_last)
    if previous == 0:
        return None
    return quotient(Fraction(current) - Fraction(previous), previous)


def _measure(
    con: duckdb.DuckDBPyConnection,
    opened: OpenedSource,
    params: GrowthParams,
    first: date,
    last: date,
) -> int | float | Decimal:
    """The measure over the days ``first``..``last``."""
    values: dict[str, Any] = {"first": day_start(first), "after": day_end(last)}
    where = (
        f'"timestamp" >= $first AND "timestamp" < $after AND {event_clause(params.event, values)}'
    )
    if params.measure == "value":
        return column_total(con, opened, "value", where, values)
    what = 'count(DISTINCT "user_id")' if params.measure == "users" else "count(*)"
    (result,) = fetch_row(con, params.source, f"SELECT {what} FROM events WHERE {where}", values)
    return int(result)


CALCULATORS: dict[str, tuple[Callable[..., Any], type[BaseModel]]] = {
    "dau": (dau, DauParams),
    "mau": (mau, DauParams),
    "stickiness": (stickiness, DauParams),
    "growth_rate": (growth_rate, GrowthParams),
}
