"""The ``clv`` and ``cac_payback`` calculators (definitions in the package README)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from opsflow import Invalid
from pydantic import BaseModel, ConfigDict

from opsflow_customer_value.purchases import SourceError, parse_day, read_purchases
from opsflow_customer_value.values import ParamError, non_negative, resolve, share

if TYPE_CHECKING:  # types only: a plugin needs nothing from opsflow at run time but hookimpl
    from opsflow.plugins import CalculatorContext

DAYS_PER_YEAR = Decimal(365)

# A number, a numeric string (a rendered template) or the name of a field or metric.
Operand = int | float | str


class ClvParams(BaseModel):
    """Params of ``clv``: either the three inputs or a purchases ``source``."""

    model_config = ConfigDict(extra="forbid")

    lifespan: Operand
    gross_margin: Operand | None = None
    average_order_value: Operand | None = None
    purchase_frequency: Operand | None = None
    source: str | None = None
    start: date | str | None = None
    end: date | str | None = None


class CacPaybackParams(BaseModel):
    """Params of ``cac_payback``: ``cac`` or ``marketing_spend`` with ``new_customers``."""

    model_config = ConfigDict(extra="forbid")

    monthly_revenue: Operand
    gross_margin: Operand | None = None
    cac: Operand | None = None
    marketing_spend: Operand | None = None
    new_customers: Operand | None = None


R = TypeVar("R")


def _invalid_on_error(fn: Callable[..., R]) -> Callable[..., R]:
    """Turn this package's param and source errors into opsflow's ``Invalid``."""

    @wraps(fn)
    def wrapper(params: Any, ctx: Any) -> R:
        try:
            return fn(params, ctx)
        except (ParamError, SourceError) as exc:
            raise Invalid(str(exc), [str(exc)]) from None

    return wrapper


@_invalid_on_error
def clv(params: ClvParams, ctx: CalculatorContext) -> float | None:
    """Customer lifetime value: AOV × purchase frequency × lifespan × gross margin.

    ``None`` when there is nothing to measure (a source with no purchase in the window,
    or an input that is unset on the case).
    """
    case = ctx.case
    lifespan = non_negative("lifespan", resolve("lifespan", params.lifespan, case))
    margin = share("gross_margin", resolve("gross_margin", params.gross_margin, case))
    direct = params.average_order_value is not None or params.purchase_frequency is not None
    if params.source is not None and direct:
        raise ParamError(
            "give either source or average_order_value and purchase_frequency, not both"
        )
    if params.source is not None:
        aov, frequency = _from_purchases(params, ctx)
    elif params.average_order_value is None or params.purchase_frequency is None:
        raise ParamError("give average_order_value and purchase_frequency, or a source")
    else:
        aov = non_negative(
            "average_order_value", resolve("average_order_value", params.average_order_value, case)
        )
        frequency = non_negative(
            "purchase_frequency", resolve("purchase_frequency", params.purchase_frequency, case)
        )
    if aov is None or frequency is None or lifespan is None:
        return None
    return float(aov * frequency * lifespan * margin)


def _from_purchases(
    params: ClvParams, ctx: CalculatorContext
) -> tuple[Decimal | None, Decimal | None]:
    """Average order value and yearly purchase frequency from the source's purchases."""
    assert params.source is not None
    start = _day("start", params.start)
    end = _day("end", params.end)
    if start is not None and end is not None and end < start:
        raise ParamError(f"end {end} is before start {start}")
    revenue, orders, customers, first, last = Decimal(0), 0, set(), None, None
    for purchase in read_purchases(params.source, ctx.sources, ctx.base_dir):
        if (start and purchase.day < start) or (end and purchase.day > end):
            continue
        revenue += purchase.amount
        orders += 1
        customers.add(purchase.customer_id)
        first = purchase.day if first is None else min(first, purchase.day)
        last = purchase.day if last is None else max(last, purchase.day)
    if not orders or first is None or last is None:
        return None, None
    days = ((end or last) - (start or first)).days + 1  # both ends inclusive
    years = Decimal(days) / DAYS_PER_YEAR
    return revenue / orders, Decimal(orders) / len(customers) / years


def _day(param: str, value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise ParamError(f"{param} must be a date (YYYY-MM-DD), not {value!r}") from None


@_invalid_on_error
def cac_payback(params: CacPaybackParams, ctx: CalculatorContext) -> float | None:
    """Months to recover the customer acquisition cost: CAC ÷ (monthly revenue × margin).

    ``None`` when it never pays back (no monthly gross profit) or an input is unset.
    """
    case = ctx.case
    if params.cac is not None and params.marketing_spend is not None:
        raise ParamError("give either cac or marketing_spend with new_customers, not both")
    if params.cac is not None:
        cac = non_negative("cac", resolve("cac", params.cac, case))
    elif params.marketing_spend is not None and params.new_customers is not None:
        spend = non_negative(
            "marketing_spend", resolve("marketing_spend", params.marketing_spend, case)
        )
        new = non_negative("new_customers", resolve("new_customers", params.new_customers, case))
        cac = None if spend is None or not new else spend / new
    else:
        raise ParamError("give cac, or marketing_spend and new_customers")
    revenue = resolve("monthly_revenue", params.monthly_revenue, case)
    margin = share("gross_margin", resolve("gross_margin", params.gross_margin, case))
    if cac is None or revenue is None or revenue * margin <= 0:
        return None
    return float(cac / (revenue * margin))
