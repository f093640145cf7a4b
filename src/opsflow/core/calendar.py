"""Working-time arithmetic on a business calendar: due times, time left, open or closed.

With a calendar, ``m``, ``h`` and ``s`` count working time, and ``d`` counts working days,
landing at the same working-clock moment (the working time since that day's opening) of
the N-th working day, or at its closing when that day is shorter. A count that starts
outside working hours starts at the next opening; a count that ends exactly at a closing
time is due then. ``1d4h`` counts the day first, then the hours. Weeks are refused: a
working week is not a fixed number of working days.

Every function walks the days spanned once, a whole day at a time (its spans' opening
and closing instants are computed once per date and cached on the calendar), so the cost
grows with the days spanned, never with the minutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from opsflow.calendars import Calendar
from opsflow.clock import END_OF_TIME
from opsflow.language.durations import parse_duration

ONE_DAY = timedelta(days=1)
ZERO = timedelta()
_DAYS_COMPACT = re.compile(r"(\d+)\s*d", re.IGNORECASE)
_DAYS_ISO = re.compile(r"^P(?:([\d.,]+)D)?", re.IGNORECASE)


@dataclass(frozen=True)
class WorkingDuration:
    """A duration counted on a calendar: whole working days, then working time."""

    days: int = 0
    time: timedelta = ZERO


def working_duration(text: str) -> WorkingDuration:
    """Parse ``16h``, ``3d``, ``1d4h``, ``P2DT4H`` for a calendar; ValueError if not one."""
    total = parse_duration(text)  # the language's messages for what is not a duration
    stripped = text.strip()
    if stripped[:1] in "pP":
        if "w" in stripped.lower():
            raise ValueError(_weeks(text))
        match = _DAYS_ISO.match(stripped)
        raw = match.group(1) if match else None
        if raw is not None and not raw.isdigit():
            raise ValueError(f"duration '{text}': working days must be whole (P2D, not P1.5D)")
        days = int(raw) if raw else 0
    else:
        if re.search(r"\d\s*w", stripped, re.IGNORECASE):
            raise ValueError(_weeks(text))
        days = sum(int(n) for n in _DAYS_COMPACT.findall(stripped))
    return WorkingDuration(days, total - days * ONE_DAY)


def _weeks(text: str) -> str:
    return f"duration '{text}': weeks are not allowed on a calendar (count working days: 5d)"


def add(calendar: Calendar, start: datetime, duration: str | WorkingDuration) -> datetime:
    """The due time (UTC) of ``duration`` counted on ``calendar`` from ``start``."""
    counted = duration if isinstance(duration, WorkingDuration) else working_duration(duration)
    moment = _utc(start)
    _check_worked(calendar)
    try:
        if counted.days:
            moment = _add_days(calendar, moment, counted.days)
        if counted.time > ZERO:
            moment = _add_time(calendar, moment, counted.time)
    except OverflowError:  # past the year 9999: never due, as opsflow.clock.later holds it
        return END_OF_TIME
    return moment


def time_left(calendar: Calendar | None, now: datetime, due: datetime) -> timedelta:
    """What is left until ``due``: working time on ``calendar`` (wall-clock time without
    one); negative once overdue, by the working time passed since."""
    if calendar is None:
        return _utc(due) - _utc(now)
    return working_time_between(calendar, now, due)


def working_time_between(calendar: Calendar, a: datetime, b: datetime) -> timedelta:
    """The working time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
    a, b = _utc(a), _utc(b)
    if b < a:
        return -working_time_between(calendar, b, a)
    zone = calendar.zone
    day, last = a.astimezone(zone).date(), b.astimezone(zone).date()
    total = ZERO
    while day <= last:
        for opens, closes in calendar.bounds(day):
            begin, end = max(opens, a), min(closes, b)
            if end > begin:
                total += end - begin
        day += ONE_DAY
    return total


def is_working(calendar: Calendar, moment: datetime) -> bool:
    """Whether ``moment`` falls in working hours (a span is open at its opening, closed at
    its closing)."""
    moment = _utc(moment)
    day = moment.astimezone(calendar.zone).date()
    return any(opens <= moment < closes for opens, closes in calendar.bounds(day))


def _add_time(calendar: Calendar, start: datetime, left: timedelta) -> datetime:
    """``start`` plus ``left`` of working time: due at a closing when it ends there."""
    day = start.astimezone(calendar.zone).date()
    while True:
        for opens, closes in calendar.bounds(day):
            if start >= closes:
                continue
            begin = max(start, opens)
            open_for = closes - begin
            if left <= open_for:
                return begin + left
            left -= open_for
        day += ONE_DAY


def _add_days(calendar: Calendar, start: datetime, n: int) -> datetime:
    """The same working-clock moment ``n`` working days after the day the count starts."""
    day = start.astimezone(calendar.zone).date()
    spans = calendar.bounds(day)
    if spans and start < spans[-1][1]:
        into = sum((min(max(start, o), c) - o for o, c in spans), ZERO)
    else:  # after the day's last closing, or a day off: counting starts at the next opening
        day, into = _next_working_day(calendar, day), ZERO
    for _ in range(n):
        day = _next_working_day(calendar, day)
    return _at_working_clock(calendar.bounds(day), into)


def _next_working_day(calendar: Calendar, day: date) -> date:
    day += ONE_DAY
    while not calendar.bounds(day):
        day += ONE_DAY
    return day


def _at_working_clock(spans: tuple[tuple[datetime, datetime], ...], into: timedelta) -> datetime:
    """The instant ``into`` working time after the day's opening (its closing at most)."""
    for opens, closes in spans:
        if into <= closes - opens:
            return opens + into
        into -= closes - opens
    return spans[-1][1]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a calendar counts from an aware datetime (with its time zone)")
    return moment.astimezone(UTC)


def _check_worked(calendar: Calendar) -> None:
    if not any(calendar.week):
        raise ValueError(f"calendar {calendar.name!r} has no working hours on any day")


__all__ = ["WorkingDuration", "add", "is_working", "working_duration", "working_time_between"]
