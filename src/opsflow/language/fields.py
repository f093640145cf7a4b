"""Typed field values (SPEC §2.1): coercion to a JSON-storable normal form, bounds, CLI text.

Normal forms: ``string``/``text`` str; ``integer`` int; ``number`` int or float; ``boolean``
bool; ``date`` ``"YYYY-MM-DD"``; ``datetime`` ISO 8601 in UTC
(``"2026-01-05T09:00:00+00:00"``; naive input is a wall-clock time in the project's time
zone, UTC unless given); ``enum`` one of ``values``;
``list`` a list of strings, numbers or booleans; ``money`` a string with two decimals
(``"1234.50"``). ``None`` means unset and is always accepted here (``required`` is the
engine's business). ``coerce_value`` is strict about Python types (no ``"3"`` for an integer:
that is what ``parse_text`` is for) and idempotent: a normal form coerces to itself.

Options: ``min``/``max`` bound ``integer``, ``number`` and ``money`` values; ``max_length``
bounds the characters of ``string``/``text`` and the items of ``list``; ``pattern`` is a
regular expression the whole of a ``string`` value must match; ``values`` lists an
``enum``'s choices. Options on other types are reported by the workflow checks and ignored.

Whatever the options say, a value stays within what expressions can evaluate (SPEC §2.6):
at most ``MAX_LENGTH`` characters or list items and integers of at most ``MAX_INT_BITS``
bits, so no stored value can make a guard fail or a history entry balloon.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from opsflow.clock import in_zone
from opsflow.errors import FieldError
from opsflow.language._evaluator import MAX_INT_BITS, MAX_LENGTH
from opsflow.language.models import FieldSpec
from opsflow.suggest import did_you_mean

NUMERIC_TYPES = frozenset({"integer", "number", "money"})
LENGTH_TYPES = frozenset({"string", "text", "list"})
# Characters of an indexed string field (``index: true``): PostgreSQL's b-tree holds entries
# of about 2,700 bytes, and a character takes up to 4.
MAX_INDEXED_LENGTH = 500
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
_CENT = Decimal("0.01")
_MONEY_LIMIT = Decimal(10) ** 18


def is_empty(value: Any) -> bool:
    """Whether ``value`` counts as not set: None, "", [] or {}."""
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


def _show(bound: float | Decimal) -> str:
    if isinstance(bound, float) and bound.is_integer():
        return str(int(bound))
    return str(bound)


def _check_bounds(name: str, spec: FieldSpec, value: float | Decimal) -> None:
    if spec.min is not None and value < _as_bound(spec.min, value):
        raise FieldError(name, f"must be >= {_show(spec.min)}")
    if spec.max is not None and value > _as_bound(spec.max, value):
        raise FieldError(name, f"must be <= {_show(spec.max)}")


def _as_bound(bound: float, value: float | Decimal) -> float | Decimal:
    return Decimal(str(bound)) if isinstance(value, Decimal) else bound


def _coerce_integer(name: str, spec: FieldSpec, value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError(name, "must be an integer, not a boolean")
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        value = int(value)
    if not isinstance(value, int):
        raise FieldError(name, "must be an integer")
    _check_int_size(name, value)
    _check_bounds(name, spec, value)
    return value


def _check_int_size(name: str, value: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise FieldError(name, f"is too large a number (limit {MAX_INT_BITS} bits)")


def _coerce_number(name: str, spec: FieldSpec, value: Any) -> int | float:
    if isinstance(value, bool):
        raise FieldError(name, "must be a number, not a boolean")
    if isinstance(value, Decimal):
        value = int(value) if value.is_finite() and value == int(value) else float(value)
    if not isinstance(value, int | float):
        raise FieldError(name, "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError(name, "must be a finite number")
    if isinstance(value, int):
        _check_int_size(name, value)
    _check_bounds(name, spec, value)
    return value


def _coerce_money(name: str, spec: FieldSpec, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise FieldError(name, "must be an amount of money like 1234.50")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise FieldError(name, "must be an amount of money like 1234.50") from None
    if not amount.is_finite():
        raise FieldError(name, "must be a finite amount of money")
    if abs(amount) >= _MONEY_LIMIT:
        raise FieldError(name, "is too large an amount")
    if amount != amount.quantize(_CENT):
        raise FieldError(name, "must have at most 2 decimal places")
    _check_bounds(name, spec, amount)
    return str(amount.quantize(_CENT))


def _check_text(name: str, value: str) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate, as from undecodable bytes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        reason = f"must be valid UTF-8 text (undecodable character at position {exc.start})"
        raise FieldError(name, reason) from None


def _coerce_string(name: str, spec: FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError(name, "must be a string")
    _check_text(name, value)
    if spec.max_length is not None and len(value) > spec.max_length:
        raise FieldError(name, f"must be at most {spec.max_length} characters")
    if len(value) > MAX_LENGTH:
        raise FieldError(name, f"is too long (limit {MAX_LENGTH:,} characters)")
    if spec.type == "string" and spec.pattern is not None:
        try:
            matched = re.fullmatch(spec.pattern, value) is not None
        except re.error:
            raise FieldError(name, f"has an invalid pattern '{spec.pattern}'") from None
        if not matched:
            raise FieldError(name, f"must match the pattern '{spec.pattern}'")
    return value


def _coerce_date(name: str, value: Any) -> str:
    if isinstance(value, datetime):
        raise FieldError(name, "must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not _DATE.fullmatch(value.strip()):
        raise FieldError(name, "must be a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        shown = _clip(str(value))
        raise FieldError(name, f"must be a date that exists ('{shown}' does not)") from None


def _coerce_datetime(name: str, value: Any, zone: tzinfo) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not _DATE.match(text):
            raise FieldError(name, "must be a date and time in ISO 8601 (2026-01-05T09:00:00Z)")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(
                name,
                f"must be a date and time that exists in ISO 8601 ('{_clip(str(value))}' is not)",
            ) from None
    else:
        raise FieldError(name, "must be a date and time in ISO 8601 (2026-01-05T09:00:00Z)")
    try:
        return in_zone(moment, zone).astimezone(UTC).isoformat()
    except OverflowError:
        # 0001-01-01T00:30:00+01:00 is in year 0 in UTC, 9999-12-31T23:59:59-01:00 in 10000
        reason = f"is out of range ('{_clip(str(value))}' is not in years 1 to 9999 in UTC)"
        raise FieldError(name, reason) from None


def _coerce_enum(name: str, spec: FieldSpec, value: Any) -> str:
    values = spec.values or []
    if isinstance(value, str) and value in values:
        return value
    shown = f"'{_clip(value)}'" if isinstance(value, str) else _clip(repr(value))
    reason = f"{shown} is not one of {', '.join(values)}"
    if isinstance(value, str):
        reason += did_you_mean(value, values)
    raise FieldError(name, reason)


def _coerce_list(name: str, spec: FieldSpec, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise FieldError(name, "must be a list")
    items = list(value)
    for item in items:
        if not isinstance(item, str | int | float) or (
            isinstance(item, float) and not math.isfinite(item)
        ):
            raise FieldError(name, "must be a list of strings, numbers or booleans")
        if isinstance(item, str) and len(item) > MAX_LENGTH:
            limit = f"limit {MAX_LENGTH:,} characters"
            raise FieldError(name, f"has an item that is too long ({limit})")
        if isinstance(item, str):
            _check_text(name, item)
        if isinstance(item, int):
            _check_int_size(name, item)
    if spec.max_length is not None and len(items) > spec.max_length:
        raise FieldError(name, f"must have at most {spec.max_length} items")
    if len(items) > MAX_LENGTH:
        raise FieldError(name, f"has too many items (limit {MAX_LENGTH:,})")
    return items


def coerce_value(name: str, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
    """Check ``value`` for field ``name`` and return its JSON-storable normal form.

    ``zone``: where a datetime typed without an offset (or a bare date) is read.
    """
    if value is None:
        return None
    kind = spec.type
    if kind in ("string", "text"):
        return _coerce_string(name, spec, value)
    if kind == "integer":
        return _coerce_integer(name, spec, value)
    if kind == "number":
        return _coerce_number(name, spec, value)
    if kind == "money":
        return _coerce_money(name, spec, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise FieldError(name, "must be true or false")
        return value
    if kind == "date":
        return _coerce_date(name, value)
    if kind == "datetime":
        return _coerce_datetime(name, value, zone)
    if kind == "enum":
        return _coerce_enum(name, spec, value)
    if kind == "list":
        return _coerce_list(name, spec, value)
    raise FieldError(name, f"has an unknown type '{kind}'")


def parse_text(name: str, spec: FieldSpec, text: str) -> Any:
    """Parse CLI text (``--set K=V``) by the field's type; empty text unsets the field.

    A ``datetime`` is checked and returned as typed: the step that writes it reads a
    naive one in the project's time zone (``coerce_value``'s ``zone``).
    """
    stripped = text.strip()
    if stripped == "":
        return None
    kind = spec.type
    value: Any = text if kind in ("string", "text") else stripped
    if kind == "integer":
        if not _INTEGER_TEXT.fullmatch(stripped):
            raise FieldError(name, f"must be an integer (got '{_clip(text)}')")
        value = _int_text(name, stripped)
    elif kind == "number":
        if not _NUMBER_TEXT.fullmatch(stripped):
            raise FieldError(name, f"must be a number (got '{_clip(text)}')")
        value = _int_text(name, stripped) if _INTEGER_TEXT.fullmatch(stripped) else float(stripped)
    elif kind == "boolean":
        lowered = stripped.lower()
        if lowered not in _TRUE | _FALSE:
            raise FieldError(name, f"must be true or false (got '{_clip(text)}')")
        value = lowered in _TRUE
    elif kind == "list":
        value = _parse_list_text(name, stripped)
    elif kind == "datetime":
        coerce_value(name, spec, value)
        return value
    return coerce_value(name, spec, value)


def _int_text(name: str, text: str) -> int:
    # Python refuses to read integers of more than 4,300 digits; say so in opsflow's words.
    try:
        return int(text)
    except ValueError:
        raise FieldError(name, f"is too large a number (limit {MAX_INT_BITS} bits)") from None


def _clip(text: str, limit: int = 60) -> str:
    """``text`` shortened for a message, so a 10 MB value does not become a 10 MB error."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_list_text(name: str, text: str) -> list[Any]:
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except RecursionError:
            raise FieldError(name, "must be a flat list (the JSON is nested too deeply)") from None
        except ValueError:
            raise FieldError(name, "must be a list: a,b,c or a JSON list") from None
        if not isinstance(parsed, list):
            raise FieldError(name, "must be a list: a,b,c or a JSON list")
        return parsed
    return [item.strip() for item in text.split(",") if item.strip()]


def to_python(spec: FieldSpec, value: Any) -> Any:
    """Turn a stored normal form into Python: date, aware datetime, Decimal; others as is."""
    if value is None:
        return None
    if spec.type == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if spec.type == "datetime" and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if spec.type == "money" and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value
