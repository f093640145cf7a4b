"""Evaluation at the edges: every numeric operation is bounded before it runs (SPEC §2.6).

Huge money values raised to powers, repeat counts past any list, datetimes at the ends of
the calendar: each is an `EvaluationError` with a plain message, never a raw Python error
and never seconds of work.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from opsflow.language.expressions import EvaluationError, ExpressionError, compile_expression

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RICH = Decimal("99999999999999999.99")


def _evaluate(source: str, **scope: Any) -> Any:
    expression = compile_expression(source, names=[*scope, "now"])
    return expression.evaluate({"now": NOW, **scope})


@pytest.mark.parametrize(
    "source",
    [
        "(amount ** 100) ** 10",
        "round(((amount ** 100) ** 10) ** 58)",
        "amount * amount ** 100 * amount ** 100 * amount ** 100",
        "round(amount ** 100)",
    ],
)
def test_huge_money_is_refused_before_it_is_computed(source: str) -> None:
    started = time.perf_counter()
    with pytest.raises(EvaluationError, match="too large"):
        _evaluate(source, amount=RICH)
    assert time.perf_counter() - started < 0.5


def test_money_of_ordinary_size_still_computes() -> None:
    assert _evaluate("round(amount * 2, 1)", amount=Decimal("10.25")) == Decimal("20.5")
    assert _evaluate("amount ** 2", amount=Decimal("1000000.00")) == Decimal("1000000000000")


@pytest.mark.parametrize(
    ("source", "scope"),
    [
        ("len(tags * n)", {"tags": [], "n": 2**70}),
        ("len(n * tags)", {"tags": [], "n": 2**70}),
        ("len(title * n)", {"title": "", "n": 2**70}),
        ("len(tags * n)", {"tags": [], "n": -(2**70)}),
    ],
)
def test_repeat_count_is_bounded_even_for_empty_values(source: str, scope: dict[str, Any]) -> None:
    with pytest.raises(EvaluationError, match="repeat count too large"):
        _evaluate(source, **scope)


def test_small_repeats_of_empty_values_are_fine() -> None:
    assert _evaluate("len(tags * n)", tags=[], n=3) == 0
    assert _evaluate("title * 0", title="ab") == ""


def test_constant_repeat_is_refused_at_its_column() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("true and [] * 2**70", names=[])
    assert "repeat count too large" in caught.value.message
    assert caught.value.col == 10


@pytest.mark.parametrize(
    "note",
    [
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+14:00",
    ],
)
@pytest.mark.parametrize("function", ["days_since", "hours_since", "date"])
def test_datetimes_at_the_edge_of_the_calendar(function: str, note: str) -> None:
    with pytest.raises(EvaluationError, match="out of range|cannot read|needs YYYY-MM-DD"):
        _evaluate(f"{function}(note)", note=note)


def test_a_datetime_value_at_the_edge_of_the_calendar() -> None:
    moment = datetime.fromisoformat("0001-01-01T00:30:00+01:00")
    for function in ("days_since", "hours_since", "date"):
        with pytest.raises(EvaluationError, match="out of range"):
            _evaluate(f"{function}(at)", at=moment)


def test_now_at_the_end_of_time_against_the_first_day() -> None:
    expression = compile_expression("hours_since(d) > 1", names=["d", "now"])
    moment = datetime(1, 1, 1, tzinfo=UTC)
    assert expression.evaluate({"now": datetime.max.replace(tzinfo=UTC), "d": moment})


def test_a_raw_python_error_inside_evaluation_becomes_an_evaluation_error() -> None:
    def explode(*_: Any) -> Any:
        raise OverflowError("boom")

    expression = compile_expression("f(1)", names=[], functions=["f"])
    with pytest.raises(EvaluationError, match="function 'f' failed"):
        expression.evaluate({}, {"f": explode})
