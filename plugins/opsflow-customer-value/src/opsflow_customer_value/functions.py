"""Expression functions: pure, deterministic, plain values in and out."""

from __future__ import annotations

from decimal import Decimal


def pct_change(
    old: int | float | Decimal | None, new: int | float | Decimal | None
) -> float | None:
    """Percentage change from ``old`` to ``new``: (new − old) ÷ |old| × 100.

    ``None`` when either is unset or ``old`` is 0, so that a guard such as
    ``pct_change(last_month, this_month) > 10`` is simply false then.
    """
    if old is None or new is None:
        return None
    for value in (old, new):
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise TypeError(f"pct_change() takes numbers, not {type(value).__name__}")
    if old == 0:
        return None
    return float((Decimal(str(new)) - Decimal(str(old))) / abs(Decimal(str(old))) * 100)
