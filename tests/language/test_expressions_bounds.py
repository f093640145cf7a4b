"""Run-time bombs: each is refused quickly with EvaluationError, never a hang or a huge object."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from opsflow.language.expressions import (
    MAX_ALLOCATION,
    MAX_INT_BITS,
    MAX_LENGTH,
    EvaluationError,
    compile_expression,
)

NAMES = frozenset({"amount", "n", "big", "f", "s", "tags", "price", "nested"})
SANITY_SECONDS = 2.0  # a generous bound, not a benchmark: each case takes milliseconds


def evaluate(text: str, **values: Any) -> Any:
    return compile_expression(text, names=NAMES).evaluate(values)


@pytest.mark.parametrize(
    ("text", "values", "fragment"),
    [
        ("amount ** amount ** amount", {"amount": 10**6}, "exponent too large"),
        ("amount ** 100", {"amount": 10**15}, "integer result too large"),
        ("(amount * amount) ** 99", {"amount": 10**15}, "integer result too large"),
        ("big * big", {"big": 2**4000}, "integer result too large"),
        ("big + big", {"big": 2**4096 - 1}, "integer result too large"),
        ("-big - big", {"big": 2**4096 - 1}, "integer result too large"),
        ("big ** 0.5 ** -1", {"big": 2**4000}, "cannot compute **"),
        ("big / 3", {"big": 2**4096 - 1}, "cannot compute /"),
        ("f * f", {"f": 1e308}, "not a finite number"),
        ("f ** 2", {"f": 1e308}, "cannot compute **"),
        ("price ** 100 * price ** 100", {"price": Decimal("1e999999")}, "number too large"),
        ("'x' * n", {"n": 10**9}, "string too long"),
        ("s * n", {"s": "abc", "n": 10**9}, "string too long"),
        ("n * s", {"s": "abc", "n": 2**4000}, "string too long"),
        ("[0] * n", {"n": 10**9}, "list too long"),
        ("tags * n", {"tags": [1, 2], "n": 10**9}, "list too long"),
        ("s + s", {"s": "x" * 60_000}, "string too long"),
        ("tags + tags", {"tags": [0] * 60_000}, "list too long"),
        ("[tags] * n", {"tags": [0], "n": 10}, "only a list of plain values can be repeated"),
        ("[[0] * 10] * n", {"n": 10}, "only a list of plain values can be repeated"),
        ("[nested] * n", {"nested": {"a": 1}, "n": 2}, "only a list of plain values"),
    ],
)
def test_runtime_bombs_are_refused_fast(text: str, values: dict[str, Any], fragment: str) -> None:
    started = time.perf_counter()
    with pytest.raises(EvaluationError) as info:
        evaluate(text, **values)
    assert time.perf_counter() - started < SANITY_SECONDS
    assert fragment in info.value.message


def test_total_data_built_by_one_evaluation_is_bounded() -> None:
    # Each list is within MAX_LENGTH, but together they pass MAX_ALLOCATION.
    copies = MAX_ALLOCATION // (MAX_LENGTH - 1) + 1
    text = "[" + ", ".join(["tags * n"] * copies) + "]"
    started = time.perf_counter()
    with pytest.raises(EvaluationError, match="builds too much data"):
        evaluate(text, tags=[0], n=MAX_LENGTH - 1)
    assert time.perf_counter() - started < SANITY_SECONDS


def test_nested_concatenation_growth_is_bounded() -> None:
    # Doubling by concatenation: 2**k elements after k steps, refused at MAX_LENGTH.
    text = "tags"
    for _ in range(20):
        text = f"({text} + {text})" if len(text) < 900 else text
    started = time.perf_counter()
    with pytest.raises(EvaluationError, match="too long|too much data"):
        evaluate(text, tags=list(range(1000)))
    assert time.perf_counter() - started < SANITY_SECONDS


def test_limits_allow_ordinary_large_values() -> None:
    assert evaluate("2 ** 100 * amount", amount=3) == 3 * 2**100
    assert evaluate("amount ** 100", amount=10**12).bit_length() <= MAX_INT_BITS
    assert len(evaluate("'x' * n", n=MAX_LENGTH)) == MAX_LENGTH
    assert evaluate("(-1) ** n", n=10**6 // 10**4) == 1
    assert evaluate("price ** 2", price=Decimal("1.5")) == Decimal("2.25")


def test_each_evaluation_has_its_own_budget() -> None:
    expression = compile_expression("tags * n", names=NAMES)
    for _ in range(3 * MAX_ALLOCATION // MAX_LENGTH):
        assert len(expression.evaluate({"tags": [0], "n": MAX_LENGTH})) == MAX_LENGTH


def test_results_are_not_shared_between_evaluations() -> None:
    expression = compile_expression("[1, 2]", names=NAMES)
    first = expression.evaluate({})
    first.append(3)
    assert expression.evaluate({}) == [1, 2]
