"""Turning a param into a number: a number, a numeric string, a field or a metric of the case."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class ParamError(ValueError):
    """A param that cannot be turned into the number it should be."""


def to_decimal(param: str, value: Any) -> Decimal | None:
    """``value`` as a Decimal (``None`` stays ``None``); booleans and text are refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParamError(f"{param} is a boolean, not a number")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and NUMBER_TEXT.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            pass
    raise ParamError(f"{param} is not a number: {value!r}")


def resolve(param: str, value: Any, case: Mapping[str, Any]) -> Decimal | None:
    """A number, or the value of the case's field or metric that ``value`` names.

    String params are Jinja2 templates that opsflow has already rendered, so
    ``"{{ budget }}"`` arrives here as ``"30000"``; a bare name (``budget``) is looked up
    in the case's data, then in its metrics (a stored metric is ``{"value": ...}``).
    An unset field or metric gives ``None``.
    """
    if isinstance(value, str) and not NUMBER_TEXT.match(value.strip()):
        name = value.strip()
        data = case.get("data") or {}
        metrics = case.get("metrics") or {}
        if name in data:
            return to_decimal(f"{param} ({name})", data[name])
        if name in metrics:
            found = metrics[name]
            if isinstance(found, Mapping):
                found = found.get("value")
            return to_decimal(f"{param} ({name})", found)
        raise ParamError(f"{param} '{name}' is neither a number, a field nor a metric of the case")
    return to_decimal(param, value)


def share(param: str, value: Decimal | None) -> Decimal:
    """A share in (0, 1], such as a gross margin; unset means 1."""
    if value is None:
        return Decimal(1)
    if not Decimal(0) < value <= Decimal(1):
        raise ParamError(f"{param} must be a share in (0, 1], not {value}")
    return value


def non_negative(param: str, value: Decimal | None) -> Decimal | None:
    """``value`` unless it is negative."""
    if value is not None and value < 0:
        raise ParamError(f"{param} must be >= 0, not {value}")
    return value
