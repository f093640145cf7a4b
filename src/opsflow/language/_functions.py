"""The built-in functions of opsflow expressions: len min max abs round days_since ...

Each takes the current `Run` (for `now`) and its positional arguments. Like the
operators, a null argument gives null (except `len`, where null counts as empty).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from opsflow.clock import local
from opsflow.errors import EvaluationError
from opsflow.language._evaluator import (
    Run,
    as_utc,
    checked,
    greater,
    kind,
    less,
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_DATE_TEXT = 64
MAX_ROUND_DIGITS = 28


@dataclass(frozen=True)
class Builtin:
    """A built-in function and how many positional arguments it takes."""

    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number

    def arity(self) -> str:
        """The accepted argument count, for messages."""
        if self.max_args is None:
            return f"at least {self.min_args}"
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"


def _len(run: Run, value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | list | Mapping):
        return len(value)
    raise EvaluationError(f"len() needs a string, list or dict, not {kind(value)}")


def _extreme(name: str, better: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def pick(run: Run, *args: Any) -> Any:
        values: Any = args
        if len(args) == 1 and isinstance(args[0], list):
            values = args[0]
        best = None
        for value in values:
            if value is None:
                continue
            if isinstance(value, list | Mapping):
                message = f"{name}() needs numbers, strings or dates, not {kind(value)}"
                raise EvaluationError(message)
            if best is None or better(value, best):
                best = value
        return best

    return pick


def _abs(run: Run, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return checked(abs(value))
    raise EvaluationError(f"abs() needs a number, not {kind(value)}")


def _round(run: Run, value: Any, digits: Any = None) -> Any:
    if value is None:
        return None
    if not isinstance(value, int | float | Decimal):
        raise EvaluationError(f"round() needs a number, not {kind(value)}")
    checked(value)  # a money value past the bound would turn into a huge integer here
    if digits is None:
        try:
            return checked(round(value))
        except (ArithmeticError, ValueError) as exc:
            raise EvaluationError(f"cannot round: {exc}") from None
    if type(digits) is not int or abs(digits) > MAX_ROUND_DIGITS:
        raise EvaluationError(
            f"round() digits must be a whole number from -{MAX_ROUND_DIGITS} to {MAX_ROUND_DIGITS}"
        )
    try:
        return checked(round(value, digits))
    except (ArithmeticError, ValueError) as exc:
        raise EvaluationError(f"cannot round: {exc}") from None


def _now(run: Run) -> datetime:
    return as_utc(_local_now(run))


def _local_now(run: Run) -> datetime:
    """``now`` on the project's clocks: the engine gives it in the project's time zone, so
    that ``today``, and a date's midnight, are those of the project, not of UTC."""
    now = run.scope.get("now")
    if not isinstance(now, datetime):
        raise EvaluationError("the current time ('now') is not available")
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _moment(name: str, value: Any) -> date | datetime | None:
    """A date or aware datetime from a date, a datetime or an ISO 8601 string."""
    if value is None or isinstance(value, date):
        return utc_moment(value) if isinstance(value, datetime) else value
    if isinstance(value, str) and len(value) <= _MAX_DATE_TEXT:
        try:
            if _ISO_DATE.fullmatch(value):
                return date.fromisoformat(value)
            return utc_moment(datetime.fromisoformat(value))
        except ValueError:
            pass
        raise EvaluationError(f"{name}() cannot read {value!r} as a date or datetime")
    raise EvaluationError(f"{name}() needs a date or datetime, not {kind(value)}")


def utc_moment(value: datetime) -> datetime:
    """``as_utc``, with a moment that has no UTC equivalent (year 0 or 10000) an error."""
    try:
        return as_utc(value)
    except OverflowError:
        raise EvaluationError(f"{value.isoformat()} is out of range in UTC") from None


def _days_since(run: Run, value: Any) -> Any:
    moment = _moment("days_since", value)
    if moment is None:
        return None
    now = _local_now(run)
    if isinstance(moment, datetime):
        return (as_utc(now) - moment).total_seconds() / 86_400
    return (now.date() - moment).days


def _hours_since(run: Run, value: Any) -> Any:
    moment = _moment("hours_since", value)
    if moment is None:
        return None
    now = _local_now(run)
    if not isinstance(moment, datetime):  # the day's midnight in the project's time zone
        moment = utc_moment(datetime.combine(moment, time(), now.tzinfo))
    return (as_utc(now) - moment).total_seconds() / 3_600


def _today(run: Run) -> date:
    return _local_now(run).date()


def _date(run: Run, value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):  # the day it is in the project's time zone
        now = run.scope.get("now")
        zone = (now.tzinfo if isinstance(now, datetime) else None) or UTC
        return local(utc_moment(value), zone).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, str):
        raise EvaluationError(f"date() needs YYYY-MM-DD, not {value[:40]!r}")
    raise EvaluationError(f"date() needs a string or datetime, not {kind(value)}")


BUILTINS: dict[str, Builtin] = {
    "len": Builtin(_len, 1, 1),
    "min": Builtin(_extreme("min", less), 1, None),
    "max": Builtin(_extreme("max", greater), 1, None),
    "abs": Builtin(_abs, 1, 1),
    "round": Builtin(_round, 1, 2),
    "days_since": Builtin(_days_since, 1, 1),
    "hours_since": Builtin(_hours_since, 1, 1),
    "today": Builtin(_today, 0, 0),
    "date": Builtin(_date, 1, 1),
}
