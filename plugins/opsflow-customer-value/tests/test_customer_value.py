"""opsflow-customer-value: its calculators and function, alone and in a workflow."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import shutil
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opsflow import Invalid
from opsflow.plugins import CalculatorContext, Plugins
from opsflow.testing import project_engine

import opsflow_customer_value
from opsflow_customer_value.functions import pct_change

DATA = Path(__file__).parent / "data"
MakeCtx = Callable[..., CalculatorContext]


@pytest.fixture
def plugins(opsflow_register: Callable[..., Plugins]) -> Plugins:
    """opsflow's built-ins with this plugin registered for the test."""
    return opsflow_register(opsflow_customer_value, "customer_value")


@pytest.fixture
def purchases(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """A ``purchases`` source over the sample CSV, copied into the project directory."""
    shutil.copy(DATA / "purchases.csv", tmp_path / "purchases.csv")
    return {"purchases": {"path": "purchases.csv"}}


def reference_clv(
    rows: list[tuple[str, Decimal, str]], start: str, end: str, lifespan: int, margin: str
) -> float:
    """CLV the long way: AOV × orders per customer per year × lifespan × margin."""
    kept = [r for r in rows if start <= r[2] <= end]
    revenue = sum((r[1] for r in kept), Decimal(0))
    aov = revenue / len(kept)
    days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    years = Decimal(days) / Decimal(365)
    frequency = Decimal(len(kept)) / len({r[0] for r in kept}) / years
    return float(aov * frequency * lifespan * Decimal(margin))


def test_the_hooks_register_everything(plugins: Plugins) -> None:
    info = plugins.info("customer_value")
    assert info is not None
    assert (info.calculators, info.functions) == (["clv", "cac_payback"], ["pct_change"])
    assert info.hooks == ["register_calculators", "register_functions"]


def test_the_entry_point_is_declared() -> None:
    try:
        dist = importlib.metadata.distribution("opsflow-customer-value")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the package is not installed (pip install ./plugins/opsflow-customer-value)")
    [ep] = [ep for ep in dist.entry_points if ep.group == "opsflow"]
    assert (ep.name, ep.value) == ("customer_value", "opsflow_customer_value")


# -- clv --------------------------------------------------------------------------------


def test_clv_from_numbers(plugins: Plugins, make_calculator_context: MakeCtx) -> None:
    params = {"average_order_value": 80, "purchase_frequency": 2.5, "lifespan": 3}
    assert plugins.calculators["clv"].run(params, make_calculator_context()) == 600.0
    with_margin = {**params, "gross_margin": "0.4"}  # a rendered template is text
    assert plugins.calculators["clv"].run(with_margin, make_calculator_context()) == 240.0


def test_clv_from_fields_and_metrics(plugins: Plugins, make_calculator_context: MakeCtx) -> None:
    ctx = make_calculator_context(
        data={"aov": "80.00", "years": 2},  # money fields are stored as text
        metrics={"orders_per_year": {"value": 5, "calculator": "ratio"}, "margin": 0.5},
    )
    params = {
        "average_order_value": "aov",
        "purchase_frequency": "orders_per_year",
        "lifespan": "years",
        "gross_margin": "margin",
    }
    assert plugins.calculators["clv"].run(params, ctx) == 400.0


def test_clv_is_none_while_an_input_is_unset(
    plugins: Plugins, make_calculator_context: MakeCtx
) -> None:
    ctx = make_calculator_context(data={"aov": None})
    params = {"average_order_value": "aov", "purchase_frequency": 2, "lifespan": 1}
    assert plugins.calculators["clv"].run(params, ctx) is None


def test_clv_from_a_purchases_source(
    plugins: Plugins, make_calculator_context: MakeCtx, purchases: dict[str, Any]
) -> None:
    with (DATA / "purchases.csv").open(encoding="utf-8") as handle:
        rows = [
            (r["customer_id"], Decimal(r["amount"]), r["date"][:10]) for r in csv.DictReader(handle)
        ]
    ctx = make_calculator_context(sources=purchases)
    params = {
        "source": "purchases",
        "start": "2025-01-01",
        "end": "2025-12-31",
        "lifespan": 3,
        "gross_margin": 0.4,
    }
    value = plugins.calculators["clv"].run(params, ctx)
    assert value == pytest.approx(reference_clv(rows, "2025-01-01", "2025-12-31", 3, "0.4"))
    assert value == pytest.approx(845.74 / 4 * 3 * 0.4)


def test_a_timestamp_counts_on_its_utc_day(
    plugins: Plugins, make_calculator_context: MakeCtx, tmp_path: Path
) -> None:
    (tmp_path / "late.csv").write_text(
        "customer_id,amount,date\na,10,2025-01-01T07:00:00+08:00\n", encoding="utf-8"
    )
    ctx = make_calculator_context(sources={"late": {"path": str(tmp_path / "late.csv")}})
    params = {"source": "late", "start": "2024-12-31", "end": "2024-12-31", "lifespan": 1}
    assert plugins.calculators["clv"].run(params, ctx) == 3650.0  # 10 × 365 orders a year


def test_clv_window_defaults_to_the_data(
    plugins: Plugins, make_calculator_context: MakeCtx, tmp_path: Path
) -> None:
    lines = [
        {"buyer": "a", "total": 100, "day": "2025-01-01"},
        {"buyer": "b", "total": 50, "day": "2025-12-31"},
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    columns = {"customer_id": "buyer", "amount": "total", "date": "day"}
    source = {"path": "orders.jsonl", "columns": columns}
    ctx = make_calculator_context(sources={"orders": source})
    value = plugins.calculators["clv"].run({"source": "orders", "lifespan": 2}, ctx)
    assert value == pytest.approx(75 * 1 * 2)  # 2 orders by 2 customers in 365 days


def test_no_purchase_in_the_window_is_none(
    plugins: Plugins, make_calculator_context: MakeCtx, purchases: dict[str, Any]
) -> None:
    ctx = make_calculator_context(sources=purchases)
    params = {"source": "purchases", "start": "2030-01-01", "end": "2030-01-31", "lifespan": 1}
    assert plugins.calculators["clv"].run(params, ctx) is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lifespan": 1}, "give average_order_value and purchase_frequency, or a source"),
        (
            {"lifespan": 1, "source": "purchases", "average_order_value": 1},
            "give either source or average_order_value and purchase_frequency, not both",
        ),
        (
            {"lifespan": 1, "average_order_value": 1, "purchase_frequency": 1, "gross_margin": 40},
            "gross_margin must be a share in (0, 1], not 40",
        ),
        (
            {"lifespan": "tenure", "average_order_value": 1, "purchase_frequency": 1},
            "lifespan 'tenure' is neither a number, a field nor a metric of the case",
        ),
        ({"lifespan": 1, "source": "nope"}, "source 'nope' is not configured"),
        ({"lifespan": 1, "source": "purchases", "start": "May"}, "start must be a date"),
    ],
)
def test_clv_errors_name_the_metric_and_the_problem(
    plugins: Plugins,
    make_calculator_context: MakeCtx,
    purchases: dict[str, Any],
    params: dict[str, Any],
    message: str,
) -> None:
    ctx = make_calculator_context(sources=purchases)
    with pytest.raises(Invalid) as caught:
        plugins.calculators["clv"].run(params, ctx, metric="customer_value")
    assert str(caught.value).startswith("metric 'customer_value' (calculator 'clv'): ")
    assert message in str(caught.value)


def test_a_malformed_source_names_the_line(
    plugins: Plugins, make_calculator_context: MakeCtx, tmp_path: Path
) -> None:
    (tmp_path / "bad.csv").write_text(
        "customer_id,amount,date\na,10,2025-01-01\nb,ten,2025-01-02\n", encoding="utf-8"
    )
    ctx = make_calculator_context(sources={"bad": {"path": "bad.csv"}})
    with pytest.raises(Invalid, match=r"source 'bad' line 3: column 'amount' is not a number"):
        plugins.calculators["clv"].run({"source": "bad", "lifespan": 1}, ctx)
    (tmp_path / "bad.csv").unlink()
    with pytest.raises(Invalid, match=r"source 'bad': cannot read .*bad.csv"):
        plugins.calculators["clv"].run({"source": "bad", "lifespan": 1}, ctx)


def test_unknown_params_are_refused(plugins: Plugins, make_calculator_context: MakeCtx) -> None:
    with pytest.raises(Invalid, match="param 'lifetime'"):
        plugins.calculators["clv"].run({"lifespan": 1, "lifetime": 2}, make_calculator_context())


# -- cac_payback ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "months"),
    [
        ({"cac": 300, "monthly_revenue": 50}, 6.0),
        ({"cac": 300, "monthly_revenue": 50, "gross_margin": 0.5}, 12.0),
        ({"marketing_spend": 30000, "new_customers": 100, "monthly_revenue": 25}, 12.0),
        ({"cac": "spend_per_head", "monthly_revenue": "arpa", "gross_margin": "0.8"}, 7.5),
        ({"cac": 300, "monthly_revenue": 0}, None),
        ({"cac": 300, "monthly_revenue": -5}, None),
        ({"marketing_spend": 1000, "new_customers": 0, "monthly_revenue": 25}, None),
    ],
)
def test_cac_payback(
    plugins: Plugins, make_calculator_context: MakeCtx, params: dict[str, Any], months: Any
) -> None:
    ctx = make_calculator_context(data={"spend_per_head": 240, "arpa": "40.00"})
    assert plugins.calculators["cac_payback"].run(params, ctx) == months


def test_cac_payback_needs_a_cac(plugins: Plugins, make_calculator_context: MakeCtx) -> None:
    with pytest.raises(Invalid, match="give cac, or marketing_spend and new_customers"):
        plugins.calculators["cac_payback"].run({"monthly_revenue": 1}, make_calculator_context())


# -- pct_change -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [(100, 115, 15.0), (200, 150, -25.0), (-50, -25, 50.0), (0, 5, None), (None, 5, None)],
)
def test_pct_change(old: Any, new: Any, expected: float | None) -> None:
    assert pct_change(old, new) == expected


def test_pct_change_refuses_text() -> None:
    with pytest.raises(TypeError, match="takes numbers"):
        pct_change("1", 2)  # type: ignore[arg-type]


# -- in a workflow ----------------------------------------------------------------------

WORKFLOW = """\
workflow: account_review
version: 1
title: Account review
roles: [analyst]
fields:
  aov: {type: money, min: 0}
  orders_per_year: {type: number, min: 0}
  last_quarter: {type: number}
  this_quarter: {type: number}
states:
  open: {initial: true}
  growing: {final: true}
  flat: {final: true}
transitions:
  - event: review
    from: open
    to: growing
    roles: [analyst]
    when: "pct_change(last_quarter, this_quarter) >= 10 and metrics.customer_value > 500"
  - {event: review, from: open, to: flat, roles: [analyst], when: "metrics.customer_value <= 500"}
metrics:
  customer_value:
    calculator: clv
    params:
      average_order_value: aov
      purchase_frequency: orders_per_year
      lifespan: 3
      gross_margin: "{{ 0.4 }}"
"""


def test_a_workflow_computes_clv_and_guards_with_pct_change(
    plugins: Plugins, tmp_path: Path
) -> None:
    engine = project_engine(
        tmp_path,
        workflows={"account_review": WORKFLOW},
        plugins=plugins,
        team={"ann": ["analyst"]},
    )
    data = {"aov": "150.00", "orders_per_year": 4, "last_quarter": 100, "this_quarter": 115}
    case = engine.start("account_review", data=data, actor="ann")
    case, values = engine.compute(case.id, ["customer_value"], actor="ann")
    assert values == {"customer_value": pytest.approx(720.0)}
    assert engine.fire(case.id, "review", actor="ann").to_json()["outcome"] == "transitioned"
    assert engine.status(case.id).state == "growing"
    metric = [e for e in engine.history(case.id) if e.kind == "metric"]
    assert len(metric) == 1
