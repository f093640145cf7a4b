"""Working-time arithmetic: the edge rules, time zones, and properties against a reference
that walks the calendar minute by minute."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsflow.calendars import Calendar, Span, calendars_of
from opsflow.clock import END_OF_TIME
from opsflow.core.calendar import (
    WorkingDuration,
    add,
    is_working,
    time_left,
    working_duration,
    working_time_between,
)

MINUTE = timedelta(minutes=1)


def calendar(**entry: Any) -> Calendar:
    problems: list[str] = []
    found = calendars_of({"c": entry}, problems)
    assert problems == []
    return found["c"]


OFFICE = calendar(
    timezone="Asia/Shanghai", hours={"mon-fri": "09:00-12:00 13:30-18:30"}, holidays="CN"
)


def sh(text: str) -> datetime:
    """A moment on Beijing time."""
    return datetime.fromisoformat(text + "+08:00")


def due(start: str, duration: str, on: Calendar = OFFICE) -> str:
    return add(on, sh(start), duration).astimezone(on.zone).strftime("%Y-%m-%d %H:%M")


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "time"),
    [
        ("16h", 0, timedelta(hours=16)),
        ("3d", 3, timedelta()),
        ("1d4h", 1, timedelta(hours=4)),
        ("1d 30m", 1, timedelta(minutes=30)),
        ("90m", 0, timedelta(minutes=90)),
        ("P2DT4H", 2, timedelta(hours=4)),
        ("PT36H", 0, timedelta(hours=36)),
    ],
)
def test_working_durations(text: str, days: int, time: timedelta) -> None:
    assert working_duration(text) == WorkingDuration(days, time)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1w", "weeks are not allowed on a calendar (count working days: 5d)"),
        ("1w2d", "weeks are not allowed on a calendar"),
        ("P1W", "weeks are not allowed on a calendar"),
        ("P1.5D", "working days must be whole"),
        ("soon", "is not a duration"),
        ("0h", "is zero"),
    ],
)
def test_durations_a_calendar_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        add(OFFICE, sh("2026-03-02T09:00"), text)


def test_the_start_must_carry_its_time_zone() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        add(OFFICE, datetime(2026, 3, 2, 9), "1h")


# -- the edge rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        ("2026-03-02T09:00", "3h", "2026-03-02 12:00"),  # ends at the lunch closing: due then
        ("2026-03-02T09:00", "8h", "2026-03-02 18:30"),  # ends at the day's closing: due then
        ("2026-03-02T17:30", "1h", "2026-03-02 18:30"),
        ("2026-03-02T17:30", "61m", "2026-03-03 09:01"),
        ("2026-03-02T11:00", "2h", "2026-03-02 14:30"),  # the lunch break is skipped
        ("2026-03-02T07:00", "1h", "2026-03-02 10:00"),  # armed before opening
        ("2026-03-02T12:30", "1h", "2026-03-02 14:30"),  # armed during the break
        ("2026-03-02T18:30", "1h", "2026-03-03 10:00"),  # armed at the closing: outside hours
        ("2026-03-02T20:00", "1h", "2026-03-03 10:00"),  # armed after closing
        ("2026-03-07T10:00", "1h", "2026-03-09 10:00"),  # armed on a Saturday
        ("2026-03-06T17:00", "16h", "2026-03-10 17:00"),  # over a weekend
        ("2026-03-03T10:30", "1d", "2026-03-04 10:30"),  # the same working-clock moment
        ("2026-03-06T10:30", "1d", "2026-03-09 10:30"),
        ("2026-03-03T12:30", "1d", "2026-03-04 12:00"),  # from the break: 3h in, a closing
        ("2026-03-03T07:00", "1d", "2026-03-04 09:00"),  # counting starts at Tuesday's opening
        ("2026-03-03T20:00", "1d", "2026-03-05 09:00"),  # ... at Wednesday's opening
        ("2026-03-03T10:30", "1d2h", "2026-03-04 14:00"),  # the day, then 2h over lunch
        ("2025-01-24T10:30", "1d", "2025-01-26 10:30"),  # onto a make-up Sunday
        ("2025-01-27T10:00", "1d", "2025-02-05 10:00"),  # over the Spring Festival
        ("2025-09-30T17:00", "3h", "2025-10-09 10:30"),  # over National Day
        ("2025-09-26T09:00", "8h", "2025-09-26 18:30"),
        ("2025-09-26T18:00", "1h", "2025-09-28 09:30"),  # into a make-up Sunday
    ],
)
def test_due_times_on_the_office_calendar(start: str, duration: str, expected: str) -> None:
    assert due(start, duration) == expected


def test_a_shorter_day_lands_at_its_closing() -> None:
    shop = calendar(
        timezone="Asia/Shanghai", hours={"mon-fri": "09:00-18:00", "sat": "10:00-12:00"}
    )
    assert due("2026-03-06T17:00", "1d", shop) == "2026-03-07 12:00"  # 8h in, Saturday has 2h
    assert due("2026-03-06T10:00", "1d", shop) == "2026-03-07 11:00"


def test_time_left_and_open_or_closed() -> None:
    a, b = sh("2026-03-06T17:00"), sh("2026-03-09T10:00")
    assert working_time_between(OFFICE, a, b) == timedelta(hours=2, minutes=30)
    assert working_time_between(OFFICE, b, a) == -timedelta(hours=2, minutes=30)
    assert working_time_between(OFFICE, a, a) == timedelta()
    assert is_working(OFFICE, sh("2026-03-02T09:00"))
    assert not is_working(OFFICE, sh("2026-03-02T12:00"))
    assert not is_working(OFFICE, sh("2026-03-02T18:30"))
    assert not is_working(OFFICE, sh("2025-10-02T10:00"))
    assert is_working(OFFICE, sh("2025-10-11T10:00"))  # a make-up Saturday


def test_berlin_across_the_clock_changes() -> None:
    berlin = calendar(timezone="Europe/Berlin", hours={"mon-fri": "09:00-18:00"})
    friday = datetime(2026, 3, 27, 17, tzinfo=berlin.zone)  # CET, +01:00
    monday = add(berlin, friday, "2h")
    assert monday == datetime(2026, 3, 30, 8, tzinfo=UTC)  # 10:00 CEST
    assert working_time_between(berlin, friday, monday) == timedelta(hours=2)
    october = add(berlin, datetime(2026, 10, 23, 12, tzinfo=berlin.zone), "1d")
    assert october == datetime(2026, 10, 26, 11, tzinfo=UTC)  # 12:00 CET
    always = calendar(timezone="Europe/Berlin", hours={"mon-sun": "00:00-24:00"})
    sunday = datetime(2026, 3, 29, tzinfo=always.zone)
    next_day = datetime(2026, 3, 30, tzinfo=always.zone)
    assert working_time_between(always, sunday, next_day) == timedelta(hours=23)
    assert add(always, sunday, "1d") == next_day
    assert add(always, sunday, "24h") == next_day + timedelta(hours=1)
    autumn = datetime(2026, 10, 25, tzinfo=always.zone)
    assert add(always, autumn, "24h") == autumn.astimezone(UTC) + timedelta(hours=24)
    assert (add(always, autumn, "1d") - autumn) == timedelta(hours=25)


def test_shanghai_has_no_clock_changes() -> None:
    always = calendar(timezone="Asia/Shanghai", hours={"mon-sun": "00:00-24:00"})
    start = sh("2026-03-28T12:00")
    assert add(always, start, "72h") == start + timedelta(hours=72)
    assert add(always, start, "3d") == start + timedelta(days=3)


def test_the_cost_follows_the_days_spanned(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_at: list[date] = []
    bounds = Calendar.bounds

    def counting(self: Calendar, when: date) -> Any:
        looked_at.append(when)
        return bounds(self, when)

    monkeypatch.setattr(Calendar, "bounds", counting)
    start = sh("2026-03-02T09:00")
    end = add(OFFICE, start, "800h")  # 100 working days: about 20 weeks, whatever the minutes
    assert len(looked_at) <= (end - start).days + 2
    looked_at.clear()
    end = add(OFFICE, start, "100d")
    assert len(looked_at) <= (end - start).days + 3


def test_beyond_the_last_year_the_deadline_is_never_due() -> None:
    start = datetime(9999, 12, 30, 9, tzinfo=UTC)
    assert add(OFFICE, start, "40h") == END_OF_TIME


def test_a_calendar_without_hours_is_refused() -> None:
    empty = Calendar("empty", "UTC", ((),) * 7)
    with pytest.raises(ValueError, match="no working hours"):
        add(empty, datetime(2026, 3, 2, tzinfo=UTC), "1h")


# -- properties against a minute-by-minute reference -------------------------------------------

ZONES = ("UTC", "Asia/Shanghai", "Europe/Berlin")
WINDOW_START = datetime(2026, 3, 20, tzinfo=UTC)  # Berlin's clocks change on 29 March
WINDOW_DAYS = 20


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    zone = draw(st.sampled_from(ZONES))
    # Half-hour boundaries, none strictly inside Berlin's skipped or repeated hour.
    grid = [m for m in range(0, 24 * 60 + 1, 30) if m != 150]
    week: list[tuple[Span, ...]] = []
    for _ in range(7):
        cuts = sorted(draw(st.sets(st.sampled_from(grid), max_size=4)))
        cuts = cuts[: len(cuts) // 2 * 2]
        week.append(tuple(Span(cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2)))
    if not any(week):
        week[0] = (Span(9 * 60, 17 * 60),)
    if not week[0]:
        week[0] = (Span(10 * 60, 11 * 60),)
    dates = st.dates(date(2026, 3, 18), date(2026, 4, 30))
    off = draw(st.sets(dates, max_size=5))
    worked = draw(st.sets(dates, max_size=3)) - off
    return Calendar("random", zone, tuple(week), None, frozenset(off), frozenset(worked))


starts = st.integers(0, WINDOW_DAYS * 24 * 60).map(lambda m: WINDOW_START + m * MINUTE)


def working_minute(on: Calendar, moment: datetime) -> bool:
    """Whether the calendar's clock reads inside one of that day's spans at ``moment``."""
    local = moment.astimezone(on.zone)
    minute = local.hour * 60 + local.minute
    return any(s.start <= minute < s.end for s in on.day(local.date()).spans)


def reference_add_minutes(on: Calendar, start: datetime, minutes: int) -> datetime:
    moment, counted = start, 0
    while counted < minutes:
        counted += working_minute(on, moment)
        moment += MINUTE
    return moment


def reference_between(on: Calendar, a: datetime, b: datetime) -> timedelta:
    return MINUTE * sum(working_minute(on, a + n * MINUTE) for n in range((b - a) // MINUTE))


def day_minutes(on: Calendar, day: date) -> list[datetime]:
    """The UTC minutes of ``day`` on the calendar's clock."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=on.zone).astimezone(UTC)
    following = day + timedelta(1)
    end = datetime(following.year, following.month, following.day, tzinfo=on.zone)
    return [midnight + n * MINUTE for n in range((end.astimezone(UTC) - midnight) // MINUTE)]


def reference_add_days(on: Calendar, start: datetime, n: int) -> datetime:
    day = start.astimezone(on.zone).date()
    minutes = [m for m in day_minutes(on, day) if working_minute(on, m)]
    if minutes and start < minutes[-1] + MINUTE:
        into = sum(1 for m in minutes if m < start)
    else:
        day, into = day + timedelta(1), 0
        while not on.day(day).working:
            day += timedelta(1)
    for _ in range(n):
        day += timedelta(1)
        while not on.day(day).working:
            day += timedelta(1)
    minutes = [m for m in day_minutes(on, day) if working_minute(on, m)]
    if into == 0:
        return minutes[0]
    return minutes[min(into, len(minutes)) - 1] + MINUTE


@settings(max_examples=60, deadline=None)
@given(calendars(), starts, st.integers(1, 6 * 60))
def test_add_counts_working_minutes(on: Calendar, start: datetime, minutes: int) -> None:
    due = add(on, start, f"{minutes}m")
    assert due == reference_add_minutes(on, start, minutes)
    assert working_time_between(on, start, due) == minutes * MINUTE


@settings(max_examples=60, deadline=None)
@given(calendars(), starts, st.integers(0, 3 * 24 * 60))
def test_working_time_between_counts_working_minutes(on: Calendar, a: datetime, span: int) -> None:
    b = a + span * MINUTE
    assert working_time_between(on, a, b) == reference_between(on, a, b)
    assert is_working(on, a) == working_minute(on, a)


@settings(max_examples=60, deadline=None)
@given(calendars(), starts, st.integers(1, 4))
def test_add_counts_working_days(on: Calendar, start: datetime, n: int) -> None:
    assert add(on, start, f"{n}d") == reference_add_days(on, start, n)


# -- time left -----------------------------------------------------------------------------


def test_time_left_is_working_time_on_a_calendar_and_wall_clock_without() -> None:
    due_at = sh("2025-10-10T17:00")  # 16 working hours after Tuesday Sep 30 17:00
    assert time_left(OFFICE, sh("2025-09-30T17:00"), due_at) == timedelta(hours=16)
    assert time_left(OFFICE, sh("2025-10-09T09:30"), due_at) == timedelta(hours=14)
    assert time_left(OFFICE, sh("2025-10-10T18:30"), due_at) == -timedelta(hours=1, minutes=30)
    assert time_left(None, sh("2025-10-09T09:30"), due_at) == timedelta(hours=31, minutes=30)


def test_the_cli_writes_time_left_briefly() -> None:
    from opsflow.cli.output import time_left as shown

    assert shown(timedelta(hours=13, minutes=30), working=True) == "13h 30m working"
    assert shown(timedelta(hours=50), working=True) == "50h working"
    assert shown(timedelta(days=2, hours=2, minutes=5), working=False) == "2d 2h"
    assert shown(timedelta(seconds=59), working=False) == "0m"
    assert shown(-timedelta(hours=1), working=True) == "overdue 1h working"
    assert shown(-timedelta(minutes=5), working=False) == "overdue 5m"
