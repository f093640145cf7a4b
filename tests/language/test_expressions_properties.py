"""Property tests: random expressions over the allowed grammar, and a reference evaluator."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opsflow.language.expressions import (
    MAX_INT_BITS,
    EvaluationError,
    ExpressionError,
    compile_expression,
)

FIELDS = ("a", "b", "c", "title", "tags", "due", "price")
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DATA_TYPES = (type(None), bool, int, float, Decimal, str, date, datetime, list, dict)

# -- (1) any expression of the grammar fails only with our own errors -------------------------

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=2, max_value=10**9, min_value=-(10**9)
    ),
    st.text(max_size=8),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, None])),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none()), max_size=4),
)
scopes = st.fixed_dictionaries({name: values for name in FIELDS})

leaves = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.sampled_from(["0", "1", "2", "100", "0.5", "1e300", "10**9", "2.5"]),
    st.text(alphabet="ab%{}'\"\\标 ", max_size=5).map(repr),
    st.sampled_from(FIELDS),
    st.sampled_from(["true", "false", "null", "True", "None", "now", "state", "entered_at"]),
    st.sampled_from(
        [
            "data.a",
            "data['title']",
            "metrics.rate",
            "metrics.funnel.counts[0]",
            "actor.name",
            "actor.roles",
            "tags[0]",
            "tags[-1]",
            "title[1]",
        ]
    ),
)
BINARY = ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "in", "not in"]
CALLS = {
    "len": 1,
    "abs": 1,
    "round": 2,
    "min": 2,
    "max": 3,
    "days_since": 1,
    "hours_since": 1,
    "date": 1,
    "today": 0,
    "twice": 1,
}


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from(["not ", "-", "+"]), children).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} < {t[1]} <= {t[2]})"),
        st.lists(children, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.sampled_from(sorted(CALLS)).flatmap(
            lambda name: st.lists(children, min_size=CALLS[name], max_size=CALLS[name]).map(
                lambda args: f"{name}({', '.join(args)})"
            )
        ),
    )


expressions = st.recursive(leaves, _combine, max_leaves=12)


def _twice(value: Any) -> Any:
    if isinstance(value, int | float | str):
        return value * 2 if not isinstance(value, str) else value + value
    return [value, value] if value is not None else None


@settings(max_examples=500, deadline=None)
@given(text=expressions, values=scopes)
def test_random_expressions_fail_only_with_opsflow_errors(
    text: str, values: dict[str, Any]
) -> None:
    try:
        expression = compile_expression(text, names=FIELDS, functions={"twice"})
    except ExpressionError as error:
        refused: ExpressionError | None = error
    else:
        refused = None
    if refused is not None:
        assert refused.col >= 1
        return
    scope = {
        **values,
        "data": dict(values),
        "metrics": {"rate": 0.5, "funnel": {"counts": [3, 1]}},
        "actor": {"name": "ana", "roles": ["editor"]},
        "state": "draft",
        "entered_at": datetime(2026, 1, 1, tzinfo=UTC),
        "created_by": "bo",
        "now": NOW,
    }
    try:
        result = expression.evaluate(scope, {"twice": _twice})
    except EvaluationError as error:
        result = error
    if isinstance(result, EvaluationError):
        assert result.message
    else:
        assert isinstance(result, DATA_TYPES)


# -- (2) integer arithmetic and comparisons agree with a reference evaluator ------------------

Tree = Any  # int | str (a name) | (operator, Tree, Tree) | ("not"/"neg", Tree) | ("if", T, T, T)
INTS = {"x": -7, "y": 3, "z": 12}
REFERENCE: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _trees(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    return st.one_of(
        st.tuples(st.sampled_from(sorted(REFERENCE)), children, children),
        st.tuples(st.just("**"), children, st.integers(min_value=0, max_value=3)),
        st.tuples(st.sampled_from(["not", "neg"]), children),
        st.tuples(st.sampled_from(["and", "or"]), children, children),
        st.tuples(st.just("if"), children, children, children),
    )


int_trees = st.recursive(
    st.one_of(st.integers(min_value=-1000, max_value=1000), st.sampled_from(sorted(INTS))),
    _trees,
    max_leaves=10,
)


def render(tree: Tree) -> str:
    """The expression text, fully parenthesised."""
    if isinstance(tree, int):
        return f"({tree})"
    if isinstance(tree, str):
        return tree
    head, *rest = tree
    if head == "not":
        return f"(not {render(rest[0])})"
    if head == "neg":
        return f"(-{render(rest[0])})"
    if head == "if":
        return f"({render(rest[1])} if {render(rest[0])} else {render(rest[2])})"
    return f"({render(rest[0])} {head} {render(rest[1])})"


class TooBig(Exception):
    """An intermediate integer past opsflow's bound: refusal is tested elsewhere."""


def reference(tree: Tree) -> Any:
    """What Python's own operators give, applied by hand."""
    value = _reference(tree)
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TooBig
    return value


def _reference(tree: Tree) -> Any:
    if isinstance(tree, int):
        return tree
    if isinstance(tree, str):
        return INTS[tree]
    head, *rest = tree
    if head == "not":
        return not reference(rest[0])
    if head == "neg":
        return operator.neg(reference(rest[0]))
    if head == "if":
        return reference(rest[1]) if reference(rest[0]) else reference(rest[2])
    if head == "and":
        return reference(rest[0]) and reference(rest[1])
    if head == "or":
        return reference(rest[0]) or reference(rest[1])
    if head == "**":
        return operator.pow(reference(rest[0]), rest[1])
    return REFERENCE[head](reference(rest[0]), reference(rest[1]))


@settings(max_examples=500, deadline=None)
@given(tree=int_trees)
def test_integer_expressions_match_the_reference(tree: Tree) -> None:
    text = render(tree)
    try:
        expected = reference(tree)
    except TooBig:
        return
    try:
        expression = compile_expression(text, names=INTS)
    except ExpressionError as error:
        refused: ExpressionError | None = error
    else:
        refused = None
    if refused is not None:
        assert "too deeply nested" in refused.message or "too complex" in refused.message
        return
    result = expression.evaluate(INTS)
    assert result == expected
    assert type(result) is type(expected)
