"""The expression language: what compiles, what is refused, and what values come out."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsflow.language.expressions import (
    BUILTIN_FUNCTIONS,
    CONTEXT_NAMES,
    EvaluationError,
    Expression,
    ExpressionError,
    compile_expression,
)

FIELDS = frozenset(
    {"budget", "kind", "claims", "title", "tags", "x", "amount", "due", "publish_at", "price"}
)
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def scope(**values: Any) -> dict[str, Any]:
    """A scope like the engine's: every field (None when unset) plus the context names."""
    base: dict[str, Any] = dict.fromkeys(FIELDS)
    base.update(
        data={},
        metrics={"engagement_rate": 0.25, "funnel": {"counts": [10, 4], "rates": [1, 0.4]}},
        actor={"name": "ana", "roles": ["editor", "legal"]},
        state="draft",
        entered_at=datetime(2026, 1, 8, 12, 0, tzinfo=UTC),
        created_by="bo",
        now=NOW,
    )
    base.update(values)
    base["data"] = {name: base[name] for name in FIELDS}
    return base


def run(text: str, functions: dict[str, Any] | None = None, **values: Any) -> Any:
    expression = compile_expression(text, names=FIELDS, functions=set(functions or ()))
    return expression.evaluate(scope(**values), functions or {})


def refuse(text: str, **kwargs: Any) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, names=FIELDS, functions={"score"}, **kwargs)
    return info.value


# -- refused at compile time -------------------------------------------------------------

ESCAPES = [
    ("().__class__.__bases__[0].__subclasses__()", "method calls are not allowed"),
    ("().__class__.__bases__[0]", "starting with '_'"),
    ("data.__class__", "attribute names starting with '_' are not allowed: '__class__'"),
    ("''.__class__", "starting with '_'"),
    ("x.__globals__", "starting with '_'"),
    ("score.__call__", "starting with '_'"),
    ("title[0].__class__", "starting with '_'"),
    ("[1][0].__class__", "starting with '_'"),
    ("metrics._secret", "starting with '_'"),
    ("metrics.x.__dict__", "starting with '_'"),
    ("data['__class__']", "keys starting with '_'"),
    ("__import__('os')", "names starting with '_' are not allowed: '__import__'"),
    ("__builtins__", "names starting with '_'"),
    ("_x", "names starting with '_'"),
    ("x if x else __import__('os')", "'__import__'"),
    ("import os", "syntax error"),
    ("x = 1", "syntax error"),
    ("x; y", "syntax error"),
    ("x\ny", "syntax error"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("getattr(data, 'x')", "unknown function 'getattr'"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('1')", "unknown function 'exec'"),
    ("compile('1', '', 'eval')", "unknown function 'compile'"),
    ("globals()", "unknown function 'globals'"),
    ("locals()", "unknown function 'locals'"),
    ("vars()", "unknown function 'vars'"),
    ("type(1)", "unknown function 'type'"),
    ("print(1)", "unknown function 'print'"),
    ("sum(tags)", "unknown function 'sum'"),
    ("lambda: 1", "lambda is not allowed in expressions"),
    ("(lambda y: y)(1)", "only functions can be called"),
    ("[y for y in tags]", "list comprehension is not allowed"),
    ("{y for y in tags}", "set comprehension is not allowed"),
    ("{y: 1 for y in tags}", "dict comprehension is not allowed"),
    ("(y for y in tags)", "generator expression is not allowed"),
    ("len(y for y in tags)", "generator expression is not allowed"),
    ("f'{x}'", "f-string is not allowed"),
    ("f'{x.__class__}'", "f-string is not allowed"),
    ("'{0.__class__}'.format(data)", "method calls are not allowed"),
    ("'%s' % x", "string formatting with % is not allowed"),
    ("(y := 1)", "assignment (:=) is not allowed"),
    ("[*tags]", "unpacking with * is not allowed"),
    ("max(*tags)", "unpacking with * is not allowed"),
    ("data.get('x')", "method calls are not allowed"),
    ("[].append(1)", "method calls are not allowed"),
    ("actor.name.upper()", "method calls are not allowed"),
    ("(1).bit_length()", "method calls are not allowed"),
    ("'abc'.upper", "attribute access is only allowed on data, metrics and actor"),
    ("budget.real", "attribute access is only allowed on data, metrics and actor"),
    ("x.y", "attribute access is only allowed on data, metrics and actor"),
    ("(yield)", "yield is not allowed"),
    ("(yield from tags)", "yield is not allowed"),
    ("await x", "await is not allowed"),
    ("b'x'", "bytes literals are not allowed"),
    ("...", "Ellipsis is not allowed"),
    ("1j", "complex numbers are not allowed"),
    ("1" * 1500, "integer literal too large"),
    ("2 ** 5000", "exponent too large"),
    ("9**9**9**9", "exponent too large"),
    ("1e999", "number literal too large"),
    ("1e308 * 10", "not a finite number"),
    ("'x' * 10**9", "string too long"),
    ("[1] * 10**9", "list too long"),
    ("1 / 0", "division by zero"),
    ("'a' + 1", "cannot use + with string and number"),  # constant parts are computed on load
    ("(" * 1000 + "1" + ")" * 1000, "too long"),
    ("[" * 300 + "]" * 300, "too deeply nested"),
    ("-" * 1999 + "1", "too deeply nested"),
    ("x" * 2001, "too long"),
    ("len(x=1)", "keyword arguments are not allowed"),
    ("len(**data)", "keyword arguments are not allowed"),
    ("x is None", "operator 'is' is not allowed in expressions; use == null"),
    ("x | 1", "operator '|' is not allowed"),
    ("x << 1", "operator '<<' is not allowed"),
    ("~x", "operator '~' is not allowed"),
    ("{'a': 1}", "dict literal is not allowed"),
    ("{1, 2}", "set literal is not allowed"),
    ("tags[1:2]", "slicing is not allowed"),
    ("tags[x]", "an index must be a constant string or whole number"),
    ("tags[True]", "an index must be a constant"),
    ("actor.email", "actor has only .name and .roles"),
    ("data.budgt", "unknown field 'budgt' in data.budgt (did you mean 'budget'?)"),
    ("len(tags, 1)", "len() takes 1 argument(s), 2 given"),
    ("today(1)", "today() takes 0 argument(s), 1 given"),
    ("", "empty expression"),
]


@pytest.mark.parametrize(("text", "fragment"), ESCAPES, ids=[t[:40] for t, _ in ESCAPES])
def test_refused_at_compile_time(text: str, fragment: str) -> None:
    error = refuse(text)
    assert fragment in error.message
    assert error.col >= 1


def test_escape_corpus_is_large() -> None:
    assert len(ESCAPES) >= 40


def test_unknown_name_suggests_the_field() -> None:
    error = refuse("budgt > 100")
    assert error.message == "unknown name 'budgt' (did you mean 'budget'?)"
    assert error.col == 1


def test_unknown_function_suggests_a_builtin() -> None:
    assert refuse("lne(tags)").message == "unknown function 'lne' (did you mean 'len'?)"


def test_a_function_used_as_a_name_is_explained() -> None:
    assert "len is a function" in refuse("len").message


@pytest.mark.parametrize(
    ("text", "col", "line"),
    [
        ("budget + budgt", 10, 1),
        ("'标题' + budgt", 8, 1),  # columns count characters, not UTF-8 bytes
        ("  budgt", 3, 1),
        ("\n  (budget +\n   budgt)", 4, 3),
        ("budget +* 1", 9, 1),
        ("claims and x.y", 12, 1),
    ],
)
def test_error_column_and_line(text: str, col: int, line: int) -> None:
    error = refuse(text)
    assert (error.line, error.col) == (line, col)


def test_plugin_function_names_are_known_only_when_registered() -> None:
    assert "unknown function 'score'" in str(
        pytest.raises(ExpressionError, compile_expression, "score(1)", names=FIELDS).value
    )
    assert compile_expression("score(1)", names=FIELDS, functions={"score"}).functions == {"score"}


# -- what compiles ----------------------------------------------------------------------


def test_public_names() -> None:
    assert {"len", "min", "max", "abs", "round", "days_since", "hours_since", "today", "date"} == (
        BUILTIN_FUNCTIONS
    )
    assert {"data", "metrics", "actor", "state", "entered_at", "created_by", "now", "assignee"} == (
        CONTEXT_NAMES
    )


def test_fields_and_functions_used() -> None:
    expression = compile_expression(
        "claims or kind == 'ad' and len(tags) > 0 and data.budget > 1 and data['price'] "
        "and state == 'draft' and metrics.engagement_rate > actor.name and null != true",
        names=FIELDS,
    )
    assert expression.fields == {"claims", "kind", "tags", "budget", "price"}
    assert expression.functions == {"len"}
    assert expression.source.startswith("claims or")


def test_expressions_pickle_by_recompiling() -> None:
    expression = compile_expression("score(budget) + data.price", names=FIELDS, functions={"score"})
    copy = pickle.loads(pickle.dumps(expression))
    assert isinstance(copy, Expression)
    assert (copy.source, copy.fields, copy.functions) == (
        expression.source,
        expression.fields,
        expression.functions,
    )
    assert copy.evaluate(scope(budget=2, price=1), {"score": lambda v: v * 10}) == 21


def test_source_never_uses_eval_or_exec() -> None:
    import opsflow.language as language

    folder = Path(language.__file__).parent
    for path in [*folder.glob("_*.py"), folder / "expressions.py"]:
        text = path.read_text(encoding="utf-8")
        assert "eval(" not in text, path
        assert "exec(" not in text, path


# -- semantics ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        # precedence and arithmetic, as in Python
        ("1 + 2 * 3", {}, 7),
        ("(1 + 2) * 3", {}, 9),
        ("2 ** 3 ** 2", {}, 512),
        ("-2 ** 2", {}, -4),
        ("7 // 2 + 7 % 2", {}, 4),
        ("7 / 2", {}, 3.5),
        ("-7 // 2", {}, -4),
        ("2 ** -1", {}, 0.5),
        ("not 1 == 2", {}, True),
        ("not claims or kind == 'ad'", {"claims": True, "kind": "ad"}, True),
        ("1 + 2 == 3 and 2 < 3", {}, True),
        ("'a' + 'b' * 2", {}, "abb"),
        ("[1, 2] + [3]", {}, [1, 2, 3]),
        ("(1, 2)", {}, [1, 2]),
        ("[0] * 3", {}, [0, 0, 0]),
        ("3 * 'ab'", {}, "ababab"),
        ("True + 1", {}, 2),
        # short-circuit, Python-like values
        ("claims or kind == 'ad'", {"claims": False, "kind": "ad"}, True),
        ("claims or kind == 'ad'", {"claims": False, "kind": "post"}, False),
        ("title or 'untitled'", {}, "untitled"),
        ("title and len(title)", {"title": "abc"}, 3),
        ("x and 1 / x", {"x": 0}, 0),
        ("x or 1 or 1 / x", {"x": 0}, 1),
        ("claims and 1 / x", {"claims": False, "x": 0}, False),
        ("0 and 1 and 2", {}, 0),
        ("1 and 2 and 3", {}, 3),
        ("0 or '' or null", {}, None),
        # conditional
        ("'big' if budget > 100 else 'small'", {"budget": 101}, "big"),
        ("'big' if budget > 100 else 'small'", {"budget": None}, "small"),
        ("1 if true else 1 / x", {"x": 0}, 1),
        ("1 / x if x else 0", {"x": 0}, 0),
        # chained comparisons
        ("0 < x < 10", {"x": 5}, True),
        ("0 < x < 10", {"x": 10}, False),
        ("0 < x <= 10 != 11", {"x": 10}, True),
        ("1 < 2 > 0", {}, True),
        # None: comparisons false, equality works, arithmetic propagates
        ("budget > 100", {}, False),
        ("budget < 100", {}, False),
        ("budget <= 100 or budget >= 100", {}, False),
        ("budget == null", {}, True),
        ("budget == None", {}, True),
        ("budget != null", {"budget": 0}, True),
        ("budget * 2", {}, None),
        ("-budget", {}, None),
        ("budget + 1 > 0", {}, False),
        ("not budget", {}, True),
        ("metrics.nothing_here == null", {}, True),
        # in / not in
        ("'legal' in actor.roles", {}, True),
        ("'brand' not in actor.roles", {}, True),
        ("'ad' in kind", {"kind": "bad"}, True),
        ("'x' in tags", {}, False),
        ("'x' not in tags", {}, True),
        ("2 in [1, 2.0]", {}, True),
        ("'funnel' in metrics", {}, True),
        ("kind in ['ad', 'video']", {"kind": "video"}, True),
        ("null in [1, null]", {}, True),
        # aliases
        ("true", {}, True),
        ("false", {}, False),
        ("null", {}, None),
        ("True and not False", {}, True),
        ("None", {}, None),
        # context names and access
        ("actor.name", {}, "ana"),
        ("actor.roles", {}, ["editor", "legal"]),
        ("actor.roles[0]", {}, "editor"),
        ("actor.roles[-1]", {}, "legal"),
        ("actor.roles[5]", {}, None),
        ("metrics.engagement_rate", {}, 0.25),
        ("metrics.funnel.counts[1]", {}, 4),
        ("metrics.funnel['rates'][1]", {}, 0.4),
        ("metrics.missing.deeper", {}, None),
        ("metrics['engagement_rate'] > 0.2", {}, True),
        ("data.budget", {"budget": 5}, 5),
        ("data['kind']", {"kind": "ad"}, "ad"),
        ("tags[0]", {"tags": ["a", "b"]}, "a"),
        ("title[0]", {"title": "标题"}, "标"),
        ("state == 'draft' and created_by == 'bo'", {}, True),
        ("entered_at < now", {}, True),
        # money: Decimal with ints, floats and other Decimals
        ("price * 2", {"price": Decimal("10.25")}, Decimal("20.50")),
        ("price + 0.5", {"price": Decimal("10.25")}, 10.75),
        ("price == 10.25", {"price": Decimal("10.25")}, True),
        ("price > 10.2", {"price": Decimal("10.25")}, True),
        ("price - price", {"price": Decimal("10.25")}, Decimal("0.00")),
        ("price / 4", {"price": Decimal("10")}, Decimal("2.5")),
        ("price in [10.25]", {"price": Decimal("10.25")}, True),
        ("round(price * 1.1, 2)", {"price": Decimal("10.25")}, 11.28),
        ("round(price / 3, 2)", {"price": Decimal("10")}, Decimal("3.33")),
        # dates
        ("due < now", {"due": date(2026, 1, 9)}, True),
        ("due == now", {"due": date(2026, 1, 10)}, True),
        ("due >= publish_at", {"due": date(2026, 1, 5), "publish_at": NOW}, False),
        ("due == date('2026-01-05')", {"due": date(2026, 1, 5)}, True),
        ("publish_at > date('2026-01-09')", {"publish_at": NOW}, True),
        ("due < today()", {"due": date(2026, 1, 9)}, True),
        ("due > null", {"due": date(2026, 1, 9)}, False),
        # builtins
        ("len(tags)", {"tags": [1, 2, 3]}, 3),
        ("len(tags)", {}, 0),
        ("len(title)", {"title": "标题"}, 2),
        ("len(metrics)", {}, 2),
        ("min(3, 1, 2)", {}, 1),
        ("max(3, 1, 2)", {}, 3),
        ("max(tags)", {"tags": [4, 9, 2]}, 9),
        ("min([])", {}, None),
        ("max(budget, 10)", {}, 10),
        ("max(price, 1.5)", {"price": Decimal("2")}, Decimal("2")),
        ("min('b', 'a')", {}, "a"),
        ("max(due, date('2026-02-01'))", {"due": date(2026, 1, 1)}, date(2026, 2, 1)),
        ("abs(-3)", {}, 3),
        ("abs(budget)", {}, None),
        ("abs(price)", {"price": Decimal("-1.50")}, Decimal("1.50")),
        ("round(2.567, 2)", {}, 2.57),
        ("round(2.5)", {}, 2),
        ("round(1234, -2)", {}, 1200),
        ("round(budget)", {}, None),
        ("days_since(due)", {"due": date(2026, 1, 5)}, 5),
        ("days_since(entered_at)", {}, 2.0),
        ("days_since('2026-01-05')", {}, 5),
        ("days_since('2026-01-09T00:00:00Z')", {}, 1.5),
        ("days_since(publish_at)", {}, None),
        ("hours_since(entered_at)", {}, 48.0),
        ("hours_since(due)", {"due": date(2026, 1, 10)}, 12.0),
        ("today()", {}, date(2026, 1, 10)),
        ("date('2026-01-05')", {}, date(2026, 1, 5)),
        ("date(now)", {}, date(2026, 1, 10)),
        ("date(due)", {"due": date(2026, 1, 5)}, date(2026, 1, 5)),
        ("date(publish_at)", {}, None),
    ],
)
def test_values(text: str, values: dict[str, Any], expected: Any) -> None:
    result = run(text, **values)
    assert result == expected
    assert type(result) is type(expected)


def test_naive_and_aware_datetimes_compare_as_utc() -> None:
    assert run("publish_at == now", publish_at=datetime(2026, 1, 10, 12, 0)) is True


@pytest.mark.parametrize(
    ("text", "values", "fragment"),
    [
        ("title + 1", {"title": "a"}, "cannot use + with string and number"),
        ("title - 1", {"title": "a"}, "cannot use - with string and number"),
        ("tags * 1.5", {"tags": [1]}, "cannot use * with list and number"),
        ("x / 0", {"x": 1}, "division by zero"),
        ("x // 0", {"x": 1}, "division by zero"),
        ("x % 0", {"x": 1}, "division by zero"),
        ("price / 0", {"price": Decimal("1")}, "division by zero"),
        ("x ** -1", {"x": 0}, "division by zero"),
        ("title % 1", {"title": "%s"}, "string formatting with % is not allowed"),
        ("title < 1", {"title": "a"}, "cannot compare string with number using <"),
        ("due > 1", {"due": date(2026, 1, 1)}, "cannot compare date with number using >"),
        ("1 in title", {"title": "a1"}, "'in' a string needs a string on the left"),
        ("1 in x", {"x": 5}, "cannot use 'in' with number"),
        ("[1] in metrics", {}, "'in' a dict needs a string"),
        ("-title", {"title": "a"}, "cannot use - with string"),
        ("+title", {"title": "a"}, "cannot use + with string"),
        ("actor.name.first", {}, "cannot read .first of string"),
        ("x[0]", {"x": 5}, "cannot index number"),
        ("tags['a']", {"tags": [1]}, "a list index must be a number"),
        ("due - due", {"due": date(2026, 1, 1)}, "cannot use - with date and date"),
        ("x ** 0.5", {"x": -8}, "not a real number"),
        ("len(x)", {"x": 5}, "len() needs a string, list or dict, not number"),
        ("abs(title)", {"title": "a"}, "abs() needs a number"),
        ("round(title)", {"title": "a"}, "round() needs a number"),
        ("round(x, 1.5)", {"x": 1}, "round() digits must be a whole number"),
        ("round(x, 1000)", {"x": 1}, "round() digits must be a whole number"),
        ("max(1, 'a')", {}, "cannot compare string with number"),
        ("max(tags)", {"tags": [[1], [2]]}, "max() needs numbers, strings or dates, not list"),
        ("days_since(title)", {"title": "soon"}, "days_since() cannot read 'soon'"),
        ("days_since(x)", {"x": 5}, "days_since() needs a date or datetime, not number"),
        ("today()", {"now": None}, "the current time ('now') is not available"),
        ("hours_since(now)", {"now": "soon"}, "hours_since() cannot read 'soon'"),
        ("date(title)", {"title": "05/01/2026"}, "date() needs YYYY-MM-DD"),
        ("date(title)", {"title": "2026-02-30"}, "date() needs YYYY-MM-DD"),
        ("date(x)", {"x": 5}, "date() needs a string or datetime"),
    ],
)
def test_evaluation_errors(text: str, values: dict[str, Any], fragment: str) -> None:
    with pytest.raises(EvaluationError) as info:
        run(text, **values)
    assert fragment in info.value.message
    assert str(info.value) == info.value.message


# -- plugin functions -----------------------------------------------------------------


def test_plugin_function_result() -> None:
    functions = {"score": lambda a, b: {"total": a + b, "parts": [a, b], "at": NOW}}
    assert run("score(budget, 2)['total']", functions, budget=1) == 3
    assert run("score(1, 2)['parts'][1]", functions) == 2


def test_plugin_function_exception_names_the_function() -> None:
    def score(value: Any) -> int:
        raise RuntimeError("the model is offline")

    with pytest.raises(EvaluationError, match="function 'score' failed: the model is offline"):
        run("score(budget)", {"score": score})


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        (object(), "returned a value of type object"),
        ({1, 2}, "returned a value of type set"),
        ((1, 2), "returned a value of type tuple"),
        (b"raw", "returned a value of type bytes"),
        ({1: "a"}, "returned a dict key of type int"),
        ([1, [2, [open]]], "returned a value of type builtin_function_or_method"),
        (float("nan"), "not finite"),
        (2**5000, "integer over 4096 bits"),
        ("x" * 200_000, "string longer than"),
        (type("Str", (str,), {})("sneaky"), "value of type Str"),
    ],
)
def test_plugin_function_must_return_opsflow_data(returned: Any, fragment: str) -> None:
    with pytest.raises(EvaluationError) as info:
        run("score(1)", {"score": lambda value: returned})
    assert "function 'score' returned" in info.value.message
    assert fragment in info.value.message


def test_plugin_function_missing_at_run_time() -> None:
    expression = compile_expression("score(1)", names=FIELDS, functions={"score"})
    with pytest.raises(EvaluationError, match="function 'score' is not available"):
        expression.evaluate(scope())


def test_builtins_cannot_be_replaced_by_plugins() -> None:
    assert run("len(tags)", {"len": lambda value: 99}, tags=[1]) == 1


def test_missing_scope_names_read_as_null() -> None:
    expression = compile_expression("budget == null and data.budget == null", names=FIELDS)
    assert expression.evaluate({"data": {}}) is True
    assert expression.evaluate({}) is True


# The engine gives ``now`` on the project's clocks: 2026-03-01T23:30+08:00 is 15:30 UTC,
# and half an hour later it is March 2 in Shanghai while still March 1 in UTC.
SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE_MIDNIGHT = datetime(2026, 3, 1, 23, 30, tzinfo=SHANGHAI)
AFTER_MIDNIGHT = datetime(2026, 3, 2, 0, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "now", "values", "expected"),
    [
        ("today()", BEFORE_MIDNIGHT, {}, date(2026, 3, 1)),
        ("today()", AFTER_MIDNIGHT, {}, date(2026, 3, 2)),
        ("today()", AFTER_MIDNIGHT.astimezone(UTC), {}, date(2026, 3, 1)),  # a UTC project
        ("days_since(due)", AFTER_MIDNIGHT, {"due": date(2026, 3, 1)}, 1),
        ("days_since(due)", BEFORE_MIDNIGHT, {"due": date(2026, 3, 1)}, 0),
        # a date's midnight is Shanghai's: 00:30 there is half an hour into March 2
        ("hours_since(due)", AFTER_MIDNIGHT, {"due": date(2026, 3, 2)}, 0.5),
        # the day an instant falls on, there
        ("date(now)", AFTER_MIDNIGHT, {}, date(2026, 3, 2)),
        (
            "date(publish_at)",
            BEFORE_MIDNIGHT,
            {"publish_at": AFTER_MIDNIGHT.astimezone(UTC)},
            date(2026, 3, 2),
        ),
        # instants compare as instants whatever the zone
        (
            "publish_at < now",
            AFTER_MIDNIGHT,
            {"publish_at": datetime(2026, 3, 1, 16, tzinfo=UTC)},
            True,
        ),
        (
            "days_since(publish_at)",
            AFTER_MIDNIGHT,
            {"publish_at": datetime(2026, 2, 28, 16, 30, tzinfo=UTC)},
            1.0,
        ),
    ],
)
def test_day_functions_use_the_project_zone_of_now(
    text: str, now: datetime, values: dict[str, Any], expected: Any
) -> None:
    result = run(text, now=now, **values)
    assert result == expected
    assert type(result) is type(expected)


def test_date_of_an_instant_at_the_end_of_time_stays_in_range() -> None:
    last = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    assert run("date(publish_at)", now=BEFORE_MIDNIGHT, publish_at=last) == date(9999, 12, 31)
