"""Money and survey KPIs: roi, budget_burn, nps and the ab_test significance test.

``roi``, ``budget_burn`` and ``ab_test`` take numbers, field names or metric names
(resolved against the case's data, then its metrics); ``nps`` reads a source. The normal
distribution comes from the standard library (``math.erfc``, ``statistics.NormalDist``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from fractions import Fraction
from statistics import NormalDist
from typing import Any

from pydantic import BaseModel, Field

from opsflow.builtins.calculators import (
    CountParams,
    Day,
    Number,
    Operand,
    Params,
    day_end,
    day_start,
    fetch,
    fetch_row,
    open_events,
    operand,
    quotient,
    window_clause,
)
from opsflow.errors import Invalid
from opsflow.plugins import CalculatorContext


class RoiParams(Params):
    """Params of ``roi``: numbers, field names or metric names."""

    revenue: Operand
    cost: Operand


class BudgetBurnParams(Params):
    """Params of ``budget_burn``."""

    spent: Operand
    budget: Operand
    start: Day
    end: Day


class NpsParams(CountParams):
    """Params of ``nps``: the score column, and optionally ``event``/``start``/``end``."""

    column: str


class AbTestParams(Params):
    """Params of ``ab_test``: counts as numbers, field names or metric names."""

    conversions_a: Operand
    visitors_a: Operand
    conversions_b: Operand
    visitors_b: Operand
    alpha: float = Field(default=0.05, gt=0, lt=1)


def roi(params: RoiParams, ctx: CalculatorContext) -> float | None:
    """(revenue − cost) ÷ cost, exact then rounded once (None when cost is 0 or unset)."""
    revenue = operand("revenue", params.revenue, ctx.case)
    cost = operand("cost", params.cost, ctx.case)
    if revenue is None or cost is None:
        return None
    return quotient(Fraction(revenue) - Fraction(cost), cost)


def budget_burn(params: BudgetBurnParams, ctx: CalculatorContext) -> dict[str, float | None]:
    """``{"burn": spent ÷ budget, "elapsed": share of start..end passed at now, "pace"}``.

    The period runs from ``start`` 00:00 UTC to the end of ``end`` (the next midnight
    UTC), so a one-day period is 24 hours. ``elapsed`` is clamped to [0, 1]; ``pace`` is
    burn ÷ elapsed (above 1: spending faster than time passes). ``burn`` is None when
    the budget is 0 or either amount is unset; ``pace`` is None when burn is None or
    nothing of the period has elapsed.
    """
    if params.end < params.start:
        raise Invalid(f"param 'end' ({params.end}) is before param 'start' ({params.start})")
    spent = operand("spent", params.spent, ctx.case)
    budget = operand("budget", params.budget, ctx.case)
    burn = None if spent is None or budget is None else quotient(spent, budget)
    begin, finish = day_start(params.start), day_end(params.end)
    now = _naive_utc(ctx.now)
    passed = min(max(now - begin, timedelta(0)), finish - begin)
    elapsed = quotient(_microseconds(passed), _microseconds(finish - begin))
    pace = None if burn is None or not elapsed else quotient(Fraction(burn), Fraction(elapsed))
    return {"burn": burn, "elapsed": elapsed, "pace": pace}


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    offset = moment.utcoffset() or timedelta(0)
    return (moment - offset).replace(tzinfo=None)


def _microseconds(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def nps(params: NpsParams, ctx: CalculatorContext) -> float | None:
    """Net promoter score: % promoters (9–10) − % detractors (0–6), from −100 to 100.

    Scores are the non-null values of ``column`` (whole numbers 0–10; anything else is
    refused, naming the value); ``event``/``start``/``end`` narrow the rows like
    ``count``. None when there is no score.
    """
    from opsflow.builtins.sources import quote_identifier

    with open_events(params.source, ctx, params.column) as (con, opened):
        where, values = window_clause(opened, params)
        column = quote_identifier(params.column)
        score = f"TRY_CAST({column} AS DOUBLE)"
        scored = f"SELECT {column} AS raw, {score} AS s FROM events WHERE ({where})"
        bad = fetch(
            con,
            params.source,
            f"SELECT CAST(raw AS VARCHAR) FROM ({scored}) WHERE raw IS NOT NULL"
            " AND (s IS NULL OR s < 0 OR s > 10 OR s <> floor(s)) LIMIT 1",
            values,
        )
        if bad is not None:
            raise Invalid(
                f"source '{params.source}': column '{params.column}' has {bad!r},"
                " not a score from 0 to 10"
            )
        counts = fetch_row(
            con,
            params.source,
            "SELECT count(*) FILTER (WHERE s >= 9), count(*) FILTER (WHERE s <= 6), count(*)"
            f" FROM ({scored}) WHERE s IS NOT NULL",
            values,
        )
    promoters, detractors, total = (int(n) for n in counts)
    return quotient(100 * (promoters - detractors), total) if total else None


def ab_test(params: AbTestParams, ctx: CalculatorContext) -> dict[str, Any]:
    """Pooled two-sided z-test of B's conversion rate against A's, as statsmodels does it.

    z = (rate_b − rate_a) ÷ √(p(1−p)(1/n_a + 1/n_b)) with the pooled rate p;
    p_value = 2·(1 − Φ(|z|)); ``significant`` is p_value < alpha. The interval is for
    rate_b − rate_a at 1 − alpha, unpooled (Wald): diff ± z_(1−alpha/2)·√(Σ r(1−r)/n).
    lift = (rate_b − rate_a) ÷ rate_a (None when rate_a is 0). When both groups convert
    all or none, z and p_value are None (no variance) and nothing is significant.
    """
    conversions_a, visitors_a = _counts("a", params.conversions_a, params.visitors_a, ctx)
    conversions_b, visitors_b = _counts("b", params.conversions_b, params.visitors_b, ctx)
    rate_a, rate_b = conversions_a / visitors_a, conversions_b / visitors_b
    difference = rate_b - rate_a
    pooled = (conversions_a + conversions_b) / (visitors_a + visitors_b)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / visitors_a + 1 / visitors_b))
    z = difference / pooled_se if pooled_se > 0 else None
    p_value = math.erfc(abs(z) / math.sqrt(2)) if z is not None else None
    se = math.sqrt(rate_a * (1 - rate_a) / visitors_a + rate_b * (1 - rate_b) / visitors_b)
    margin = NormalDist().inv_cdf(1 - params.alpha / 2) * se
    return {
        "rate_a": rate_a,
        "rate_b": rate_b,
        "lift": difference / rate_a if rate_a else None,
        "z": z,
        "p_value": p_value,
        "ci_low": difference - margin,
        "ci_high": difference + margin,
        "significant": p_value is not None and p_value < params.alpha,
    }


def _counts(group: str, conversions: Any, visitors: Any, ctx: CalculatorContext) -> tuple[int, int]:
    """A group's (conversions, visitors) as whole numbers with 0 ≤ conversions ≤ visitors > 0."""
    found = (
        _whole(f"conversions_{group}", operand(f"conversions_{group}", conversions, ctx.case)),
        _whole(f"visitors_{group}", operand(f"visitors_{group}", visitors, ctx.case)),
    )
    converted, visited = found
    if visited <= 0:
        raise Invalid(f"visitors_{group} must be more than 0, got {visited}")
    if converted > visited:
        raise Invalid(
            f"conversions_{group} ({converted}) is more than visitors_{group} ({visited})"
        )
    return converted, visited


def _whole(name: str, value: Number | None) -> int:
    if value is None:
        raise Invalid(f"{name} is not set")
    if value < 0 or Fraction(value).denominator != 1:
        raise Invalid(f"{name} must be a whole number of at least 0, got {value}")
    return int(value)


CALCULATORS: dict[str, tuple[Callable[..., Any], type[BaseModel]]] = {
    "roi": (roi, RoiParams),
    "budget_burn": (budget_burn, BudgetBurnParams),
    "nps": (nps, NpsParams),
    "ab_test": (ab_test, AbTestParams),
}
