"""Cohort KPIs over an event source: retention, cohort_retention, conversion_rate, funnel.

Each follows users from a first moment (first event of a kind, first activity) to later
events (SPEC §2.5). Rows without a user or a timestamp are ignored. Days are UTC calendar
days; a window of a duration is inclusive (``timestamp ≤ first + window``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from opsflow.builtins.calculators import (
    Day,
    Params,
    SourceName,
    Window,
    day_end,
    day_start,
    event_clause,
    fetch_row,
    open_events,
    quotient,
)
from opsflow.builtins.sources import run_query
from opsflow.plugins import CalculatorContext

DEFAULT_WINDOW = timedelta(days=30)
_USERS = '"user_id" IS NOT NULL AND "timestamp" IS NOT NULL'


class RetentionParams(Params):
    """Params of ``retention``."""

    source: SourceName
    day: int = Field(ge=0, le=36_500)
    cohort_start: Day
    cohort_end: Day
    start_event: str | None = None
    return_event: str | None = None


class CohortRetentionParams(Params):
    """Params of ``cohort_retention``."""

    source: SourceName
    period: Literal["week", "month"]
    periods: int = Field(ge=0, le=1_000)


class ConversionParams(Params):
    """Params of ``conversion_rate``."""

    source: SourceName
    from_event: str
    to_event: str
    window: Window = DEFAULT_WINDOW
    start: Day | None = None
    end: Day | None = None


class FunnelParams(Params):
    """Params of ``funnel``."""

    source: SourceName
    steps: list[str] = Field(min_length=1, max_length=50)
    window: Window = DEFAULT_WINDOW
    start: Day | None = None
    end: Day | None = None

    @field_validator("steps")
    @classmethod
    def _named(cls, steps: list[str]) -> list[str]:
        if any(not step for step in steps):
            raise ValueError("every step must name an event")
        return steps


def _needs(*events: str | None) -> tuple[str, ...]:
    """The columns a calculator reads: user_id, timestamp, and event when one is named."""
    return ("user_id", "timestamp") + (("event",) if any(e is not None for e in events) else ())


def retention(params: RetentionParams, ctx: CalculatorContext) -> float | None:
    """Share of the cohort active again exactly ``day`` days after their first day.

    The cohort: users whose first ``start_event`` (any event if unset) — first over all
    the source's rows — falls on a day in ``cohort_start``..``cohort_end``. A member is
    retained when they have a ``return_event`` (any event if unset) on the UTC day
    first day + ``day``. None when the cohort is empty.
    """
    values: dict[str, Any] = {
        "cohort_first": params.cohort_start,
        "cohort_last": params.cohort_end,
        "day": params.day,
    }
    starts = event_clause(params.start_event, values, "start_event")
    returns = event_clause(params.return_event, values, "return_event")
    sql = (
        "WITH firsts AS ("
        '  SELECT "user_id", CAST(min("timestamp") AS DATE) AS first_day FROM events'
        f'  WHERE {_USERS} AND {starts} GROUP BY "user_id"'
        "), cohort AS ("
        "  SELECT * FROM firsts WHERE first_day BETWEEN $cohort_first AND $cohort_last"
        ") SELECT (SELECT count(*) FROM cohort), ("
        '  SELECT count(DISTINCT c."user_id") FROM cohort c'
        '  JOIN events ON events."user_id" = c."user_id"'
        f'  WHERE CAST(events."timestamp" AS DATE) = c.first_day + $day AND {returns})'
    )
    needs = _needs(params.start_event, params.return_event)
    with open_events(params.source, ctx, *needs) as (con, _):
        cohort, retained = fetch_row(con, params.source, sql, values)
    return quotient(int(retained), int(cohort)) if cohort else None


def cohort_retention(
    params: CohortRetentionParams, ctx: CalculatorContext
) -> dict[str, list[float]]:
    """``{cohort: [share of the cohort active in period 0, 1, …, K after it]}``.

    A user's cohort is the calendar month (key ``YYYY-MM``) or ISO week (key: its Monday,
    ``YYYY-MM-DD``) of their first activity (any event). Period k of a cohort is the k-th
    month or week after it; the share is the cohort's users with any event in it. Period 0
    is 1.0 by construction. Periods past the end of the data are computed like any other
    (0.0: nobody was active in them), so every list has K+1 numbers. Cohorts are in
    chronological order.
    """
    if params.period == "month":
        bucket = "date_trunc('month', CAST(\"timestamp\" AS DATE))"
        distance = "(year(a.p) - year(f.c)) * 12 + month(a.p) - month(f.c)"
    else:
        bucket = "date_trunc('week', CAST(\"timestamp\" AS DATE))"
        distance = "datediff('day', f.c, a.p) // 7"
    sql = (
        f'WITH active AS (SELECT DISTINCT "user_id", CAST({bucket} AS DATE) AS p FROM events'
        f"  WHERE {_USERS}"
        '), firsts AS (SELECT "user_id", min(p) AS c FROM active GROUP BY "user_id")'
        f" SELECT f.c, {distance} AS k, count(*) FROM active a"
        '  JOIN firsts f ON a."user_id" = f."user_id"'
        f"  WHERE {distance} <= $periods GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with open_events(params.source, ctx, *_needs()) as (con, _):
        rows = run_query(con, params.source, sql, {"periods": params.periods})
    active: dict[date, dict[int, int]] = {}
    for cohort, k, users in rows:
        active.setdefault(_as_date(cohort), {})[int(k)] = int(users)
    result: dict[str, list[float]] = {}
    for cohort, by_period in active.items():
        size = by_period[0]
        key = cohort.strftime("%Y-%m") if params.period == "month" else cohort.isoformat()
        result[key] = [by_period.get(k, 0) / size for k in range(params.periods + 1)]
    return result


def _as_date(value: Any) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def conversion_rate(params: ConversionParams, ctx: CalculatorContext) -> float | None:
    """Share of users with ``from_event`` who do ``to_event`` within ``window`` of the first.

    For each user, t = their first ``from_event``; they converted when they have a
    ``to_event`` at t or later and no later than t + ``window`` (default 30d). With
    ``start``/``end``, only users whose first ``from_event`` falls on those days count.
    None when no user did ``from_event``.
    """
    counts = _funnel_counts(
        params.source, ctx, [params.from_event, params.to_event], params.window, params
    )
    return quotient(counts[1], counts[0]) if counts[0] else None


def funnel(params: FunnelParams, ctx: CalculatorContext) -> dict[str, list[Any]]:
    """``{"counts": [...], "rates": [...]}`` for ``steps`` done in order within ``window``.

    counts[0] is the users with the first step; from their first step-1 event, each next
    step matches the earliest such event at or after the previous step's match, and all
    must fall within ``window`` (default 30d) of that first step-1 event; counts[k] is the
    users who got through step k+1. rates[0] is 1.0, rates[k] = counts[k] ÷ counts[k−1]
    (None when counts[k−1] is 0). ``start``/``end`` keep users whose first step-1 event
    falls on those days.
    """
    counts = _funnel_counts(params.source, ctx, params.steps, params.window, params)
    rates: list[float | None] = [1.0]
    rates += [quotient(counts[k], counts[k - 1]) for k in range(1, len(counts))]
    return {"counts": counts, "rates": rates}


def _funnel_counts(
    source: str,
    ctx: CalculatorContext,
    steps: list[str],
    window: timedelta,
    days: ConversionParams | FunnelParams,
) -> list[int]:
    """Users through each step: a chain of CTEs, step k matched from step k−1's time."""
    values: dict[str, Any] = {"step0": steps[0]}
    if len(steps) > 1:
        values["window"] = window
    having = []
    if days.start is not None:
        having.append('min("timestamp") >= $first')
        values["first"] = day_start(days.start)
    if days.end is not None:
        having.append('min("timestamp") < $after')
        values["after"] = day_end(days.end)
    chain = [
        'step0 AS (SELECT "user_id", min("timestamp") AS t1, min("timestamp") AS t FROM events'
        f' WHERE {_USERS} AND CAST("event" AS VARCHAR) = $step0 GROUP BY "user_id"'
        + (f" HAVING {' AND '.join(having)})" if having else ")")
    ]
    last = len(steps) - 1

    def match(k: int) -> str:
        values[f"step{k}"] = steps[k]
        return (
            f"FROM step{k - 1} s {'SEMI JOIN' if k == last else 'JOIN'} events e"
            f' ON e."user_id" = s."user_id" AND CAST(e."event" AS VARCHAR) = $step{k}'
            ' AND e."timestamp" >= s.t AND e."timestamp" <= s.t1 + $window'
        )

    for k in range(1, last):  # a middle step: the time of its match starts the next one
        chain.append(
            f'step{k} AS (SELECT s."user_id", s.t1, min(e."timestamp") AS t {match(k)}'
            ' GROUP BY s."user_id", s.t1)'
        )
    counts = [f"(SELECT count(*) FROM step{k})" for k in range(last or 1)]
    if last:  # the last step only needs to exist: a semi join stops at the first match
        counts.append(f"(SELECT count(*) {match(last)})")
    sql = f"WITH {', '.join(chain)} SELECT {', '.join(counts)}"
    with open_events(source, ctx, *_needs(steps[0])) as (con, _):
        row = fetch_row(con, source, sql, values)
    return [int(n) for n in row]


CALCULATORS: dict[str, tuple[Callable[..., Any], type[BaseModel]]] = {
    "retention": (retention, RetentionParams),
    "cohort_retention": (cohort_retention, CohortRetentionParams),
    "conversion_rate": (conversion_rate, ConversionParams),
    "funnel": (funnel, FunnelParams),
}
