"""Run-time values and operators of opsflow expressions.

Every operator here takes opsflow data (None, bool, int, float, Decimal, str, date,
datetime, list, dict) and either returns opsflow data or raises `EvaluationError` with a
plain message: never a raw `TypeError`, never an unbounded result.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from opsflow.errors import EvaluationError

MAX_TEXT_LENGTH = 2_000  # characters of expression text
MAX_DEPTH = 50  # levels of the syntax tree
MAX_NODES = 1_000  # nodes of the syntax tree
MAX_INT_BITS = 4_096  # size of any integer, literal or computed
MAX_DECIMAL_DIGITS = 1_233  # digits before the point of a money value: 10**1233 ~ 2**4096
MAX_EXPONENT = 100  # |exponent| of **
MAX_LENGTH = 100_000  # characters of one string, elements of one list
MAX_ALLOCATION = 1_000_000  # characters and elements built by one evaluation
MAX_DATA_DEPTH = 32  # nesting of a value returned by a plugin function

Program = Callable[["Run"], Any]


class Run:
    """One evaluation: the scope, the plugin functions and the data built so far."""

    __slots__ = ("functions", "scope", "spent")

    def __init__(self, scope: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]):
        self.scope = scope
        self.functions = functions
        self.spent = 0

    def charge(self, size: int) -> None:
        """Count `size` characters or elements built; refuse past MAX_ALLOCATION."""
        self.spent += size
        if self.spent > MAX_ALLOCATION:
            raise EvaluationError(
                f"expression builds too much data (limit {MAX_ALLOCATION:,} items)"
            )


def kind(value: Any) -> str:
    """The opsflow name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "dict"
    return type(value).__name__


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- numbers ---------------------------------------------------------------------------

_NUMBER = (int, float, Decimal)  # bool is an int, as in Python


def _numbers(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Both operands as numbers of compatible types (Decimal meets float as float)."""
    if isinstance(a, _NUMBER) and isinstance(b, _NUMBER):
        if type(a) is Decimal and type(b) is float:
            return float(a), b
        if type(a) is float and type(b) is Decimal:
            return a, float(b)
        return a, b
    return None


def checked(result: Any) -> Any:
    """Refuse an integer past MAX_INT_BITS and any non-finite or complex number."""
    kind_ = type(result)
    if kind_ is int:
        if result.bit_length() > MAX_INT_BITS:
            raise EvaluationError(f"integer result too large (limit {MAX_INT_BITS} bits)")
    elif kind_ is float:
        if not math.isfinite(result):
            raise EvaluationError("result is not a finite number")
    elif kind_ is Decimal:
        if not result.is_finite():
            raise EvaluationError("result is not a finite number")
        if result and result.adjusted() >= MAX_DECIMAL_DIGITS:
            raise EvaluationError(f"number too large (limit {MAX_DECIMAL_DIGITS:,} digits)")
    elif kind_ is complex:
        raise EvaluationError("result is not a real number")
    return result


def _compute(fn: Callable[[Any, Any], Any], a: Any, b: Any, symbol: str) -> Any:
    try:
        return checked(fn(a, b))
    except ZeroDivisionError:
        raise EvaluationError("division by zero") from None
    except (ArithmeticError, ValueError) as exc:
        raise EvaluationError(f"cannot compute {symbol}: {exc}") from None


def _unsupported(symbol: str, a: Any, b: Any) -> EvaluationError:
    return EvaluationError(f"cannot use {symbol} with {kind(a)} and {kind(b)}")


def _check_length(size: int, what: str) -> None:
    if size > MAX_LENGTH:
        raise EvaluationError(f"{what} too long (limit {MAX_LENGTH:,})")


def add(a: Any, b: Any) -> Any:
    """a + b: numbers, string + string, list + list."""
    if type(a) is int and type(b) is int:
        return checked(a + b)
    if a is None or b is None:
        return None
    pair = _numbers(a, b)
    if pair is not None:
        return _compute(_plus, *pair, "+")
    if type(a) is str and type(b) is str:
        _check_length(len(a) + len(b), "string")
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        _check_length(len(a) + len(b), "list")
        return [*a, *b]
    raise _unsupported("+", a, b)


def _plus(a: Any, b: Any) -> Any:
    return a + b


def _minus(a: Any, b: Any) -> Any:
    return a - b


def _times(a: Any, b: Any) -> Any:
    return a * b


def _divide(a: Any, b: Any) -> Any:
    return a / b


def _floor_divide(a: Any, b: Any) -> Any:
    return a // b


def _modulo(a: Any, b: Any) -> Any:
    return a % b


def _power(a: Any, b: Any) -> Any:
    return a**b


def subtract(a: Any, b: Any) -> Any:
    """a - b on numbers."""
    return _numeric(_minus, a, b, "-")


def divide(a: Any, b: Any) -> Any:
    """a / b on numbers; division by zero is an error."""
    return _numeric(_divide, a, b, "/")


def floor_divide(a: Any, b: Any) -> Any:
    """a // b on numbers."""
    return _numeric(_floor_divide, a, b, "//")


def modulo(a: Any, b: Any) -> Any:
    """a % b on numbers; string formatting with % is refused."""
    if isinstance(a, str):
        raise EvaluationError("string formatting with % is not allowed")
    return _numeric(_modulo, a, b, "%")


def _numeric(fn: Callable[[Any, Any], Any], a: Any, b: Any, symbol: str) -> Any:
    if a is None or b is None:
        return None
    pair = _numbers(a, b)
    if pair is None:
        raise _unsupported(symbol, a, b)
    return _compute(fn, *pair, symbol)


def multiply(a: Any, b: Any) -> Any:
    """a * b: numbers, or a string or list of plain values repeated a bounded number of times."""
    if type(a) is int and type(b) is int:
        return checked(a * b)
    if a is None or b is None:
        return None
    pair = _numbers(a, b)
    if pair is not None:
        return _compute(_times, *pair, "*")
    if isinstance(b, str | list) and isinstance(a, int):
        a, b = b, a
    if isinstance(a, str | list) and isinstance(b, int):
        _check_length(len(a) * max(b, 0), "string" if isinstance(a, str) else "list")
        if abs(b) > MAX_LENGTH:  # even for an empty value: Python cannot repeat 2**70 times
            raise EvaluationError(f"repeat count too large (limit {MAX_LENGTH:,})")
        if isinstance(a, str):
            return a * b
        # Repeating a list of lists would share one inner list many times over: a small
        # object whose comparison costs grow exponentially. Only plain values repeat.
        if any(isinstance(item, list | Mapping) for item in a):
            raise EvaluationError("only a list of plain values can be repeated with *")
        return a * b
    raise _unsupported("*", a, b)


def power(a: Any, b: Any) -> Any:
    """a ** b with |b| <= MAX_EXPONENT and an integer result of at most MAX_INT_BITS."""
    if a is None or b is None:
        return None
    pair = _numbers(a, b)
    if pair is None:
        raise _unsupported("**", a, b)
    base, exponent = pair
    if abs(exponent) > MAX_EXPONENT:
        raise EvaluationError(f"exponent too large (limit {MAX_EXPONENT})")
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and (base.bit_length() - 1) * exponent >= MAX_INT_BITS
    ):
        # The result has more than (bits - 1) * exponent bits: refuse before computing.
        raise EvaluationError(f"integer result too large (limit {MAX_INT_BITS} bits)")
    if isinstance(base, Decimal) and _decimal_power_too_large(base, exponent):
        raise EvaluationError(f"number too large (limit {MAX_DECIMAL_DIGITS:,} digits)")
    return _compute(_power, base, exponent, "**")


def _decimal_power_too_large(base: Decimal, exponent: Any) -> bool:
    """Whether |base ** exponent| has MAX_DECIMAL_DIGITS digits or more (checked first)."""
    if not base.is_finite() or not base or exponent <= 0:
        return False
    return base.adjusted() * exponent >= MAX_DECIMAL_DIGITS


def negative(a: Any) -> Any:
    """-a on a number."""
    if a is None:
        return None
    if isinstance(a, _NUMBER):
        return checked(-a)
    raise EvaluationError(f"cannot use - with {kind(a)}")


def positive(a: Any) -> Any:
    """+a on a number."""
    if a is None:
        return None
    if isinstance(a, _NUMBER):
        return checked(+a)
    raise EvaluationError(f"cannot use + with {kind(a)}")


# -- comparisons -----------------------------------------------------------------------


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Decimal meets float as float; a date meets a datetime as the datetime's UTC date."""
    type_a, type_b = type(a), type(b)
    if type_a is type_b:
        if type_a is datetime and (a.tzinfo is None) != (b.tzinfo is None):
            return as_utc(a), as_utc(b)
        return a, b
    if type_a is Decimal and type_b is float:
        return float(a), b
    if type_a is float and type_b is Decimal:
        return a, float(b)
    if type_a is datetime and type_b is date:
        return as_utc(a).date(), b
    if type_a is date and type_b is datetime:
        return a, as_utc(b).date()
    return a, b


def equal(a: Any, b: Any) -> bool:
    """a == b, never an error."""
    if type(a) is type(b) and type(a) is not datetime:
        return bool(a == b)
    a, b = _comparable(a, b)
    return bool(a == b)


def not_equal(a: Any, b: Any) -> bool:
    """a != b, never an error."""
    return not equal(a, b)


_PLAIN = frozenset({int, float})  # no conversion needed to compare these with each other


def _ordered(test: Callable[[Any, Any], Any], symbol: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    x, y = _comparable(a, b)
    try:
        return bool(test(x, y))
    except TypeError:
        message = f"cannot compare {kind(a)} with {kind(b)} using {symbol}"
        raise EvaluationError(message) from None


def less(a: Any, b: Any) -> bool:
    """a < b; false when either side is null."""
    if type(a) in _PLAIN and type(b) in _PLAIN:
        return bool(a < b)
    return _ordered(operator.lt, "<", a, b)


def less_equal(a: Any, b: Any) -> bool:
    """a <= b; false when either side is null."""
    if type(a) in _PLAIN and type(b) in _PLAIN:
        return bool(a <= b)
    return _ordered(operator.le, "<=", a, b)


def greater(a: Any, b: Any) -> bool:
    """a > b; false when either side is null."""
    if type(a) in _PLAIN and type(b) in _PLAIN:
        return bool(a > b)
    return _ordered(operator.gt, ">", a, b)


def greater_equal(a: Any, b: Any) -> bool:
    """a >= b; false when either side is null."""
    if type(a) in _PLAIN and type(b) in _PLAIN:
        return bool(a >= b)
    return _ordered(operator.ge, ">=", a, b)


def contains(item: Any, container: Any) -> bool:
    """item in container: substring, list element, dict key; false in null."""
    if container is None:
        return False
    if isinstance(container, str):
        if item is None:
            return False
        if not isinstance(item, str):
            raise EvaluationError(f"'in' a string needs a string on the left, not {kind(item)}")
        return item in container
    if isinstance(container, list):
        if type(item) is str:
            return item in container
        return any(equal(item, element) for element in container)
    if isinstance(container, Mapping):
        if item is None or isinstance(item, str | int):
            return item in container
        raise EvaluationError(f"'in' a dict needs a string on the left, not {kind(item)}")
    raise EvaluationError(f"cannot use 'in' with {kind(container)}")


def not_contains(item: Any, container: Any) -> bool:
    """item not in container."""
    return not contains(item, container)


# -- access ----------------------------------------------------------------------------


def attribute(value: Any, name: str) -> Any:
    """value.name: a key of a dict (None when missing or when value is null)."""
    if isinstance(value, Mapping):
        return value.get(name)
    if value is None:
        return None
    raise EvaluationError(f"cannot read .{name} of {kind(value)}")


def index(value: Any, key: str | int) -> Any:
    """value[key]: a dict key, or a list or string position (None when out of range)."""
    if isinstance(value, Mapping):
        return value.get(key)
    if value is None:
        return None
    if isinstance(value, list | str):
        if not isinstance(key, int):
            raise EvaluationError(f"a {kind(value)} index must be a number, not {key!r}")
        try:
            return value[key]
        except IndexError:
            return None
    raise EvaluationError(f"cannot index {kind(value)}")


# -- plugin results ----------------------------------------------------------------------

_SCALARS = frozenset({type(None), bool, int, float, Decimal, str, date, datetime})


def check_data(value: Any, run: Run) -> str | None:
    """Why `value` is not bounded opsflow data, or None when it is (built size is charged)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        item_type = type(item)
        if item_type in _SCALARS:
            if item_type is str:
                if len(item) > MAX_LENGTH:
                    return f"a string longer than {MAX_LENGTH:,} characters"
                run.charge(len(item))
            elif item_type is int and item.bit_length() > MAX_INT_BITS:
                return f"an integer over {MAX_INT_BITS} bits"
            elif item_type in (float, Decimal) and not math.isfinite(item):
                return "a number that is not finite"
            continue
        if depth >= MAX_DATA_DEPTH:
            return f"data nested deeper than {MAX_DATA_DEPTH} levels"
        if item_type is list:
            if len(item) > MAX_LENGTH:
                return f"a list longer than {MAX_LENGTH:,} elements"
            run.charge(len(item))
            stack.extend((element, depth + 1) for element in item)
        elif item_type is dict:
            if len(item) > MAX_LENGTH:
                return f"a dict larger than {MAX_LENGTH:,} keys"
            run.charge(len(item))
            for key, element in item.items():
                if type(key) is not str:
                    return f"a dict key of type {type(key).__name__}"
                stack.append((element, depth + 1))
        else:
            return f"a value of type {item_type.__name__}"
    return None
