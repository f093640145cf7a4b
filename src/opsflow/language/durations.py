"""Durations of deadlines and windows: ``30m``, ``4h``, ``2d``, ``1w``, ``1d12h``, ISO 8601.

Compact form: one or more ``<integer><unit>`` parts, units ``w d h m s`` in that order,
each at most once, optionally separated by spaces (``1d 12h``). ISO 8601 form:
``PnW`` or ``PnDTnHnMnS`` (``P2DT4H``, ``PT30M``, ``P1W``; the last part may have a
fraction, ``PT1.5H``). Years and months are refused rather than approximated: they have no
fixed length, and a deadline that silently means "30 days" when someone wrote "a month" is
worse than an error. Zero and negative durations are refused, and so is anything over
100 years (a typo, and beyond what a timer can usefully hold).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

MAX_DURATION = timedelta(days=36_500)

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_COMPACT_PART = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)")
_ISO = re.compile(
    r"P(?:(?P<weeks>[\d.,]+)W)?(?:(?P<years>[\d.,]+)Y)?(?:(?P<months>[\d.,]+)M)?"
    r"(?:(?P<days>[\d.,]+)D)?"
    r"(?:T(?:(?P<hours>[\d.,]+)H)?(?:(?P<minutes>[\d.,]+)M)?(?:(?P<seconds>[\d.,]+)S)?)?",
    re.IGNORECASE,
)
_HELP = "use e.g. 30m, 4h, 2d, 1w, 1d12h or ISO 8601 like P2DT4H"


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise ValueError with a message saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"a duration is text like 2d or PT30M, not {text!r}")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"empty duration; {_HELP}")
    if stripped.startswith("-"):
        raise ValueError(f"duration '{text}' is negative; durations must be positive")
    if stripped[0] in "pP":
        seconds = _parse_iso(text, stripped)
    else:
        seconds = Decimal(_parse_compact(text, stripped))
    if seconds <= 0:
        raise ValueError(f"duration '{text}' is zero; durations must be positive")
    if seconds > Decimal(MAX_DURATION.total_seconds()):
        raise ValueError(f"duration '{text}' is longer than 100 years")
    return timedelta(seconds=float(seconds)) if seconds % 1 else timedelta(seconds=int(seconds))


def _parse_compact(text: str, stripped: str) -> int:
    total = 0
    position = 0
    last_rank = -1
    order = list(_UNITS)
    for match in _COMPACT_PART.finditer(stripped):
        if match.start() != position:
            break
        number, unit = match.groups()
        if unit not in _UNITS:
            hint = (
                " (months and years have no fixed length; use days or weeks)"
                if unit in ("M", "mo", "y", "Y", "month", "months", "year", "years")
                else ""
            )
            raise ValueError(f"unknown unit '{unit}' in duration '{text}'{hint}; {_HELP}")
        rank = order.index(unit)
        if rank <= last_rank:
            raise ValueError(
                f"duration '{text}': units must appear once each, largest first (w d h m s)"
            )
        last_rank = rank
        total += int(number) * _UNITS[unit]
        position = match.end()
    if position != len(stripped) or last_rank < 0:
        raise ValueError(f"'{text}' is not a duration; {_HELP}")
    return total


def _parse_iso(text: str, stripped: str) -> Decimal:
    match = _ISO.fullmatch(stripped)
    if match is None or stripped.upper() in ("P", "PT") or stripped.upper().endswith("T"):
        raise ValueError(f"'{text}' is not an ISO 8601 duration; {_HELP}")
    parts = match.groupdict()
    if parts["years"] is not None or parts["months"] is not None:
        raise ValueError(
            f"duration '{text}' uses years or months, which have no fixed length; "
            "use days (P30D) or weeks (P4W)"
        )
    if parts["weeks"] is not None and any(
        parts[k] is not None for k in ("days", "hours", "minutes", "seconds")
    ):
        raise ValueError(f"duration '{text}': ISO 8601 weeks (PnW) cannot be combined")
    seconds = Decimal(0)
    for name, unit in (
        ("weeks", "w"),
        ("days", "d"),
        ("hours", "h"),
        ("minutes", "m"),
        ("seconds", "s"),
    ):
        value = parts[name]
        if value is None:
            continue
        try:
            amount = Decimal(value.replace(",", "."))
        except InvalidOperation:
            raise ValueError(f"'{text}' is not an ISO 8601 duration; {_HELP}") from None
        seconds += amount * _UNITS[unit]
    return seconds


def format_duration(value: timedelta) -> str:
    """Format a timedelta in the compact form (``1d12h``); the inverse of parse_duration."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
