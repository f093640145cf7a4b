"""Business calendars (``calendars:`` in ``opsflow.yaml``): working hours, holidays, days.

A calendar is a time zone, weekly working hours (several spans a day), official holidays
and make-up workdays (调休) from the ``holidays`` package, and the company's own days off
and days worked. This module parses and checks the configuration and says what one day
is; :mod:`opsflow.core.calendar` counts working time on it. It sits beside
:mod:`opsflow.people` (below the settings) so the settings can hold calendars and the
language's checks can ask which years have official data.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsflow.suggest import did_you_mean, unknown_keys

CALENDAR_KEYS = ("timezone", "hours", "holidays", "add_holidays", "add_workdays")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_A_DAY = 24 * 60
MAX_ADDED_DAYS = 10_000

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

# What makes a day what it is, most specific first (Day.kind).
WORKDAY = "workday"
WEEKEND = "weekend"
HOLIDAY = "holiday"
MAKEUP_WORKDAY = "makeup_workday"
COMPANY_DAY_OFF = "company_day_off"
COMPANY_WORKDAY = "company_workday"


@dataclass(frozen=True, order=True)
class Span:
    """Working hours within one day, in minutes since local midnight: ``[start, end)``."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True)
class Day:
    """One date on a calendar: whether it is worked, why, and its working hours."""

    date: date
    working: bool
    kind: str  # WORKDAY, WEEKEND, HOLIDAY, MAKEUP_WORKDAY, COMPANY_DAY_OFF, COMPANY_WORKDAY
    reason: str  # for people: the holiday's name, "make-up workday (调休)", …
    spans: tuple[Span, ...] = ()

    @property
    def hours(self) -> str:
        """The spans as written in ``opsflow.yaml``: ``09:00-12:00 13:30-18:30``."""
        return " ".join(str(s) for s in self.spans)

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "weekday": WEEKDAYS[self.date.weekday()],
            "working": self.working,
            "kind": self.kind,
            "reason": self.reason,
            "hours": [str(s) for s in self.spans],
        }


@dataclass(frozen=True)
class Calendar:
    """A business calendar: ``week[0]`` is Monday's spans, ``week[6]`` Sunday's."""

    name: str
    timezone: str
    week: tuple[tuple[Span, ...], ...]
    holidays: str | None = None  # a country code of the holidays package (CN)
    add_holidays: frozenset[date] = frozenset()
    add_workdays: frozenset[date] = frozenset()
    _days: dict[date, Day] = field(default_factory=dict, compare=False, repr=False)
    _bounds: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def day(self, when: date) -> Day:
        """What ``when`` is on this calendar (cached: a calendar's days never change)."""
        found = self._days.get(when)
        if found is None:
            found = self._days[when] = self._resolve(when)
        return found

    def bounds(self, when: date) -> tuple[tuple[datetime, datetime], ...]:
        """The instants (UTC) each of ``when``'s spans opens and closes, in order.

        Spans are read on the calendar's clock; on a day the clocks change, a span counts
        the real time between its opening and its closing (a time the change skips or
        repeats is read as before the change).
        """
        found = self._bounds.get(when)
        if found is None:
            zone, midnight = self.zone, datetime.combine(when, time())
            found = tuple(
                (
                    (midnight + timedelta(minutes=s.start)).replace(tzinfo=zone).astimezone(UTC),
                    (midnight + timedelta(minutes=s.end)).replace(tzinfo=zone).astimezone(UTC),
                )
                for s in self.day(when).spans
            )
            self._bounds[when] = found
        return found

    def _resolve(self, when: date) -> Day:
        monday = self.week[0]
        if when in self.add_workdays:
            return Day(when, True, COMPANY_WORKDAY, "company workday", monday)
        if when in self.add_holidays:
            return Day(when, False, COMPANY_DAY_OFF, "company day off")
        if self.holidays is not None:
            names, workdays = official_days(self.holidays, when.year)
            if when in workdays:
                return Day(when, True, MAKEUP_WORKDAY, "make-up workday (调休)", monday)
            if when in names:
                return Day(when, False, HOLIDAY, names[when])
        spans = self.week[when.weekday()]
        if spans:
            return Day(when, True, WORKDAY, "", spans)
        return Day(when, False, WEEKEND, "weekend")


def days(calendar: Calendar, year: int, month: int) -> list[Day]:
    """Every day of ``year``-``month`` on ``calendar``."""
    first = date(year, month, 1)
    return [calendar.day(first + timedelta(n)) for n in range(monthrange(year, month)[1])]


@cache
def official_days(country: str, year: int) -> tuple[dict[date, str], frozenset[date]]:
    """The ``holidays`` package's public holidays of ``year`` (names in the country's own
    language, 春节 for CN) and its make-up workdays (days off moved onto a weekend)."""
    import holidays

    entity = holidays.country_holidays(country, years=year)
    language = getattr(entity, "default_language", None)
    if language:  # otherwise the package guesses the language from the environment
        entity = holidays.country_holidays(country, years=year, language=language)
    workdays = frozenset(d for d in getattr(entity, "weekend_workdays", ()) if d.year == year)
    return dict(entity.items()), workdays


def years_without_data(calendar: Calendar, years: Iterable[int]) -> list[int]:
    """The years for which ``calendar`` has no official schedule (a warning for ``validate``).

    Countries that move days off onto weekends (China's 调休) publish each year's schedule
    late in the year before; the package then lists that year's substituted days. A year
    it lists none for, or outside the years it covers, has no official data: its holidays
    are the package's estimate at best, and its make-up workdays are unknown.
    """
    if calendar.holidays is None:
        return []
    import holidays

    entity = holidays.country_holidays(calendar.holidays)
    first, last = getattr(entity, "start_year", 1), getattr(entity, "end_year", 9999)
    special = getattr(entity, "special_public_holidays", {}) or {}
    moves_days = bool(getattr(entity, "has_substituted_holidays", False))
    missing = []
    for year in sorted(set(years)):
        if not first <= year <= last or (moves_days and year not in special):
            missing.append(year)
    return missing


def calendar_gaps(
    calendars: Mapping[str, Calendar], year: int
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Each calendar's years without official data that a deadline armed now can reach
    (``year`` and the next), for ``validate``'s warnings; calendars with none left out."""
    gaps = ((name, years_without_data(c, (year, year + 1))) for name, c in calendars.items())
    return tuple((name, tuple(years)) for name, years in sorted(gaps) if years)


def calendars_of(value: Any, problems: list[str]) -> dict[str, Calendar]:
    """``calendars: {NAME: {timezone, hours, holidays, add_holidays, add_workdays}}``, checked."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("calendars: must map calendar names to their settings")
        return {}
    calendars: dict[str, Calendar] = {}
    for name, entry in value.items():
        where = f"calendars.{name}"
        if not isinstance(name, str) or not _NAME.match(name) or name == "none":
            problems.append(
                f"calendars: {name!r} is not a calendar name ([a-z][a-z0-9_]*, not none)"
            )
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping with {', '.join(CALENDAR_KEYS)}")
            continue
        found = _calendar(name, entry, where, problems)
        if found is not None:
            calendars[name] = found
    return calendars


def _calendar(name: str, entry: dict[Any, Any], where: str, problems: list[str]) -> Calendar | None:
    before = len(problems)
    problems.extend(unknown_keys(entry, CALENDAR_KEYS, where))
    zone = _timezone(entry.get("timezone"), where, problems)
    week = _week(entry.get("hours"), where, problems)
    country = _country(entry.get("holidays"), where, problems)
    off = _dates(entry.get("add_holidays"), f"{where}.add_holidays", problems)
    worked = _dates(entry.get("add_workdays"), f"{where}.add_workdays", problems)
    for both in sorted(off & worked):
        problems.append(f"{where}: {both} is in both add_holidays and add_workdays")
    if week is not None and not week[0] and (country or worked):
        problems.append(
            f"{where}.hours: make-up workdays take Monday's hours, so mon needs working hours"
        )
    if len(problems) > before or zone is None or week is None:
        return None
    return Calendar(name, zone, week, country, frozenset(off), frozenset(worked))


def _timezone(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None:
        problems.append(f"{where}.timezone: is required (for example Asia/Shanghai)")
        return None
    return zone_name(value, f"{where}.timezone", problems)


def zone_name(value: Any, where: str, problems: list[str]) -> str | None:
    """``value`` if it is an IANA time zone name; else a problem said at ``where``."""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {value!r} is not a time zone (an IANA name like Asia/Shanghai)")
        return None
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{where}: {value!r} is not a time zone (an IANA name like Asia/Shanghai)")
        return None
    return str(value)


def _week(value: Any, where: str, problems: list[str]) -> tuple[tuple[Span, ...], ...] | None:
    """``hours: {mon-fri: "09:00-12:00 13:30-18:30", sat: "10:00-14:00"}``."""
    where = f"{where}.hours"
    if not isinstance(value, dict) or not value:
        problems.append(f'{where}: is required, e.g. {{mon-fri: "09:00-12:00 13:30-18:30"}}')
        return None
    week: list[tuple[Span, ...] | None] = [None] * 7
    said_by: dict[int, str] = {}
    ok = True
    for key, text in value.items():
        weekdays = _weekdays(str(key), where, problems)
        spans = _spans(text, f"{where}.{key}", problems)
        if weekdays is None or spans is None:
            ok = False
            continue
        for day in weekdays:
            if day in said_by:
                problems.append(
                    f"{where}: {WEEKDAYS[day]} is given twice ({said_by[day]} and {key})"
                )
                ok = False
            said_by[day], week[day] = str(key), spans
    if ok and not any(week):
        problems.append(f"{where}: no day has working hours")
        ok = False
    return tuple(spans or () for spans in week) if ok else None


def _weekdays(key: str, where: str, problems: list[str]) -> list[int] | None:
    """``mon-fri``, ``sat``, ``mon,wed,fri`` or ``mon-wed, fri``: the weekdays (0 = Monday)."""
    found: list[int] = []
    for part in (p.strip().lower() for p in key.split(",")):
        first, _, last = (p.strip() for p in part.partition("-"))
        names = [first, last] if last else [first]
        for name in names:
            if name not in WEEKDAYS:
                problems.append(
                    f"{where}: {name!r} is not a weekday (mon … sun){did_you_mean(name, WEEKDAYS)}"
                )
                return None
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            problems.append(f"{where}: the range {part!r} runs backwards (write it mon-fri)")
            return None
        found.extend(range(start, end + 1))
    return found


def _spans(value: Any, where: str, problems: list[str]) -> tuple[Span, ...] | None:
    """``"09:00-12:00 13:30-18:30"`` (or a list of spans): ordered, apart, within the day."""
    parts = value if isinstance(value, list) else str(value or "").replace(",", " ").split()
    if not parts:
        problems.append(f'{where}: give working hours like "09:00-12:00 13:30-18:30"')
        return None
    spans: list[Span] = []
    for part in parts:
        match = _SPAN.match(str(part).strip())
        if match is None:
            problems.append(f"{where}: {str(part)!r} is not a span like 09:00-12:00")
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or start >= MINUTES_A_DAY or end > MINUTES_A_DAY:
            problems.append(f"{where}: {part!r} is not within a day (00:00 to 24:00)")
            return None
        if end <= start:
            problems.append(f"{where}: {part!r} ends before it starts")
            return None
        if spans and start < spans[-1].end:
            problems.append(
                f"{where}: {part!r} overlaps or comes before {spans[-1]} (list spans in order)"
            )
            return None
        spans.append(Span(start, end))
    return tuple(spans)


def _country(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    import holidays

    code = str(value).strip().upper()
    known = holidays.list_supported_countries()
    if code not in known:
        problems.append(
            f"{where}.holidays: {value!r} is not a country the holidays package knows"
            f" (an ISO code like CN){did_you_mean(code, known)}"
        )
        return None
    return code


def _dates(value: Any, where: str, problems: list[str]) -> set[date]:
    if value is None:
        return set()
    if not isinstance(value, list):
        value = [value]
    if len(value) > MAX_ADDED_DAYS:
        problems.append(f"{where}: at most {MAX_ADDED_DAYS} dates")
        return set()
    found: set[date] = set()
    for item in value:
        if isinstance(item, datetime):
            problems.append(f"{where}: {item!r} is not a date (YYYY-MM-DD, no time)")
            continue
        if isinstance(item, date):
            found.add(item)
            continue
        try:
            found.add(date.fromisoformat(str(item)))
        except ValueError:
            problems.append(f"{where}: {item!r} is not a date (YYYY-MM-DD)")
    return found


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


__all__ = [
    "COMPANY_DAY_OFF",
    "COMPANY_WORKDAY",
    "HOLIDAY",
    "MAKEUP_WORKDAY",
    "WEEKDAYS",
    "WEEKEND",
    "WORKDAY",
    "Calendar",
    "Day",
    "Span",
    "calendars_of",
    "days",
    "official_days",
    "years_without_data",
    "zone_name",
]
