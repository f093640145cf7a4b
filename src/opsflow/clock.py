"""opsflow's clock: the system's UTC time, or the instant fixed by ``OPSFLOW_NOW``."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from opsflow.errors import Usage

Clock = Callable[[], datetime]
END_OF_TIME = datetime.max.replace(tzinfo=UTC)
START_OF_TIME = datetime.min.replace(tzinfo=UTC)


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` made aware: a naive one is a wall-clock time in ``zone`` (the project's
    time zone, for what a person typed); one with an offset stays as given."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def local(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` on the clocks of ``zone``; in UTC where ``zone`` would leave years 1 to
    9999 (a simulated clock at the end of time)."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment.astimezone(UTC)


def is_utc(zone: tzinfo) -> bool:
    """Whether ``zone`` is UTC itself (not merely a zone at offset 0 part of the year)."""
    return zone is UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")


def shown(moment: datetime, zone: tzinfo) -> str:
    """How a person reads an instant: on ``zone``'s clocks, to the minute, with the offset
    (``2026-12-05 18:30 +08:00``), or ``2026-12-05 10:30 UTC`` in UTC. Naive is UTC."""
    here = local(moment if moment.tzinfo else moment.replace(tzinfo=UTC), zone)
    clock_time = here.isoformat(sep=" ", timespec="minutes")[:16]  # years < 1000 too
    if is_utc(zone):
        return f"{clock_time} UTC"
    minutes = int((here.utcoffset() or timedelta()).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{clock_time} {sign}{hours:02d}:{minutes:02d}"


def parse_instant(text: str, zone: tzinfo = UTC) -> datetime:
    """Parse an ISO 8601 timestamp, in UTC; a naive one is read in ``zone``. Raises ValueError."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = in_zone(datetime.fromisoformat(value), zone)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is not in years 1 to 9999 in UTC") from None


def later(moment: datetime, delay: timedelta) -> datetime:
    """``moment + delay``, held at the end of time: a clock at 9999-12-31 never overflows."""
    try:
        return moment + delay
    except OverflowError:
        return END_OF_TIME if delay > timedelta() else START_OF_TIME


def system_now() -> datetime:
    """Now, honouring ``OPSFLOW_NOW`` (read on every call so tests and simulations can set it)."""
    fixed = os.environ.get("OPSFLOW_NOW")
    if fixed:
        try:
            return parse_instant(fixed)
        except ValueError as exc:
            message = f"OPSFLOW_NOW is not an ISO 8601 timestamp in years 1 to 9999: {fixed!r}"
            raise Usage(message) from exc
    return datetime.now(UTC)


_last_iso: tuple[datetime | None, str] = (None, "")  # the last instant formatted, held


def iso(moment: datetime) -> str:
    """The canonical text of an instant: ISO 8601 in UTC with an explicit offset."""
    # A fire formats its one ``now`` for its history entry's hash and, on SQLite, for the
    # case's and the entry's stored times (opsflow.store.types): formatted once.
    global _last_iso
    seen, text = _last_iso
    if moment is seen:
        return text
    text = moment.astimezone(UTC).isoformat()
    _last_iso = (moment, text)
    return text
