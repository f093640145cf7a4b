"""Business calendars in opsflow.yaml: parsing, checks, what a day is, China's holidays."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsflow.calendars import (
    COMPANY_DAY_OFF,
    COMPANY_WORKDAY,
    HOLIDAY,
    MAKEUP_WORKDAY,
    WEEKEND,
    WORKDAY,
    Calendar,
    Span,
    calendars_of,
    days,
    years_without_data,
)
from opsflow.config import load_settings
from opsflow.errors import ConfigError

CN_OFFICE = {
    "timezone": "Asia/Shanghai",
    "hours": {"mon-fri": "09:00-12:00 13:30-18:30"},
    "holidays": "CN",
    "add_holidays": [date(2026, 12, 31)],
    "add_workdays": ["2026-12-27"],
}


def parse(value: Any) -> tuple[dict[str, Calendar], list[str]]:
    problems: list[str] = []
    return calendars_of(value, problems), problems


def cn_office() -> Calendar:
    found, problems = parse({"cn_office": CN_OFFICE})
    assert problems == []
    return found["cn_office"]


def off_days(calendar: Calendar, first: date, last: date) -> list[date]:
    span = (last - first).days + 1
    return [d for d in (first + timedelta(n) for n in range(span)) if not calendar.day(d).working]


def test_the_spec_example_parses() -> None:
    office = cn_office()
    assert office.timezone == "Asia/Shanghai"
    assert office.week[0] == (Span(540, 720), Span(810, 1110))
    assert office.week[4] == office.week[0]
    assert office.week[5] == office.week[6] == ()
    assert office.holidays == "CN"
    assert office.add_holidays == {date(2026, 12, 31)}
    assert office.add_workdays == {date(2026, 12, 27)}


def test_day_ranges_lists_and_several_spans() -> None:
    found, problems = parse(
        {
            "shop": {
                "timezone": "Europe/Berlin",
                "hours": {"mon-wed, fri": ["08:00-12:00", "13:00-17:00"], "sat": "10:00-14:00"},
            },
            "always": {"timezone": "UTC", "hours": {"mon-sun": "00:00-24:00"}},
        }
    )
    assert problems == []
    shop = found["shop"]
    assert [len(s) for s in shop.week] == [2, 2, 2, 0, 2, 1, 0]
    assert str(shop.week[5][0]) == "10:00-14:00"
    assert found["always"].week == ((Span(0, 1440),),) * 7


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"timezon": "UTC"}, "unknown key 'calendars.c.timezon' (did you mean 'timezone'?)"),
        ({"timezone": "Asia/Shangai"}, "calendars.c.timezone: 'Asia/Shangai' is not a time zone"),
        ({"timezone": None}, "calendars.c.timezone: is required (for example Asia/Shanghai)"),
        ({"hours": None}, "calendars.c.hours: is required"),
        ({"hours": {"mon-fry": "09:00-18:00"}}, "'fry' is not a weekday (mon … sun)"),
        ({"hours": {"fri-mon": "09:00-18:00"}}, "the range 'fri-mon' runs backwards"),
        (
            {"hours": {"mon-fri": "09:00-18:00", "fri": "10:00-12:00"}},
            "calendars.c.hours: fri is given twice (mon-fri and fri)",
        ),
        (
            {"hours": {"mon": "9-12"}},
            "calendars.c.hours.mon: '9-12' is not a span like 09:00-12:00",
        ),
        ({"hours": {"mon": "09:00-25:00"}}, "'09:00-25:00' is not within a day (00:00 to 24:00)"),
        ({"hours": {"mon": "09:70-10:00"}}, "'09:70-10:00' is not within a day"),
        ({"hours": {"mon": "12:00-09:00"}}, "calendars.c.hours.mon: '12:00-09:00' ends before"),
        (
            {"hours": {"mon": "09:00-12:00 11:00-13:00"}},
            "'11:00-13:00' overlaps or comes before 09:00-12:00 (list spans in order)",
        ),
        ({"hours": {"mon": "13:00-14:00 09:00-12:00"}}, "'09:00-12:00' overlaps or comes before"),
        ({"hours": {"mon": ""}}, 'calendars.c.hours.mon: give working hours like "09:00-12:00'),
        ({"holidays": "XX"}, "calendars.c.holidays: 'XX' is not a country the holidays package"),
        ({"add_holidays": ["2026-02-30"]}, "calendars.c.add_holidays: '2026-02-30' is not a date"),
        ({"add_workdays": "soon"}, "calendars.c.add_workdays: 'soon' is not a date (YYYY-MM-DD)"),
        (
            {"add_holidays": ["2026-12-27"], "add_workdays": ["2026-12-27"]},
            "calendars.c: 2026-12-27 is in both add_holidays and add_workdays",
        ),
        (
            {"hours": {"tue-sat": "09:00-18:00"}},
            "calendars.c.hours: make-up workdays take Monday's hours, so mon needs working hours",
        ),
    ],
)
def test_one_mistake_gives_one_clear_problem(entry: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "timezone": "Asia/Shanghai",
        "hours": {"mon-fri": "09:00-18:00"},
        "holidays": "CN",
    }
    found, problems = parse({"c": {**base, **entry}})
    assert len(problems) == 1, problems
    assert problems[0].startswith(message) or message in problems[0]
    assert found == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], "calendars: must map calendar names to their settings"),
        ({"Office": {}}, "calendars: 'Office' is not a calendar name ([a-z][a-z0-9_]*, not none)"),
        ({"none": {}}, "calendars: 'none' is not a calendar name"),
        ({"c": "UTC"}, "calendars.c: must be a mapping with timezone, hours"),
    ],
)
def test_bad_calendar_sections(value: Any, message: str) -> None:
    found, problems = parse(value)
    assert found == {}
    assert len(problems) == 1
    assert problems[0].startswith(message)


def test_the_holiday_country_is_read_in_any_case() -> None:
    found, problems = parse({"c": {**CN_OFFICE, "holidays": "cn"}})
    assert problems == []
    assert found["c"].holidays == "CN"


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "opsflow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_settings_hold_the_calendars(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        calendars:
          cn_office:
            timezone: Asia/Shanghai
            hours: {mon-fri: "09:00-12:00 13:30-18:30"}
            holidays: CN
            add_holidays: [2026-12-31]
            add_workdays: [2026-12-27]
        """,
    )
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.calendars == {"cn_office": cn_office()}
    assert load_settings(env={}, cwd=tmp_path / "elsewhere").calendars == {}


def test_a_bad_calendar_fails_the_configuration_with_that_problem_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        team: {ann: [author]}
        calendars:
          cn_office: {timezone: Asia/Shanghai, hours: {mon-fri: "09:00-12:00 11:30-18:30"}}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=tmp_path)
    assert caught.value.reasons == [
        "calendars.cn_office.hours.mon-fri: '11:30-18:30' overlaps or comes before 09:00-12:00"
        " (list spans in order)"
    ]
    assert str(caught.value).startswith(str(tmp_path / "opsflow.yaml"))


def test_a_misspelt_calendars_key_is_suggested(tmp_path: Path) -> None:
    write(tmp_path, "calendar: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=tmp_path)
    assert caught.value.reasons == ["unknown key 'calendar' (did you mean 'calendars'?)"]


# -- what a day is ---------------------------------------------------------------------------


def test_each_kind_of_day_and_why() -> None:
    office = cn_office()
    assert office.day(date(2025, 1, 27)).kind == WORKDAY
    weekend = office.day(date(2025, 1, 25))
    assert (weekend.working, weekend.kind, weekend.reason) == (False, WEEKEND, "weekend")
    new_year = office.day(date(2025, 1, 1))
    assert (new_year.working, new_year.kind, new_year.reason) == (False, HOLIDAY, "元旦")
    makeup = office.day(date(2025, 1, 26))
    assert (makeup.working, makeup.kind) == (True, MAKEUP_WORKDAY)
    assert makeup.hours == "09:00-12:00 13:30-18:30"
    company_off = office.day(date(2026, 12, 31))
    assert (company_off.working, company_off.kind) == (False, COMPANY_DAY_OFF)
    company_on = office.day(date(2026, 12, 27))
    assert (company_on.working, company_on.kind, company_on.hours) == (
        True,
        COMPANY_WORKDAY,
        "09:00-12:00 13:30-18:30",
    )
    assert company_on.to_json() == {
        "date": "2026-12-27",
        "weekday": "sun",
        "working": True,
        "kind": "company_workday",
        "reason": "company workday",
        "hours": ["09:00-12:00", "13:30-18:30"],
    }


def test_a_make_up_workday_has_mondays_hours() -> None:
    found, problems = parse(
        {
            "shop": {
                "timezone": "Asia/Shanghai",
                "hours": {"mon": "08:00-12:00", "tue-fri": "09:00-17:00", "sat": "10:00-14:00"},
                "holidays": "CN",
            }
        }
    )
    assert problems == []
    shop = found["shop"]
    assert shop.day(date(2025, 2, 8)).hours == "08:00-12:00"  # a Saturday worked
    assert shop.day(date(2025, 2, 15)).hours == "10:00-14:00"  # an ordinary Saturday
    assert shop.day(date(2025, 9, 28)).hours == "08:00-12:00"  # a Sunday worked


def test_days_lists_the_month() -> None:
    listed = days(cn_office(), 2026, 2)
    assert [d.date.day for d in listed] == list(range(1, 29))
    assert sum(d.working for d in listed) == 16


# -- China, against the State Council's notices ------------------------------------------------


def test_china_2025() -> None:
    office = cn_office()
    off = off_days(office, date(2025, 1, 1), date(2025, 12, 31))
    weekday_holidays = [d for d in off if d.weekday() < 5]
    assert weekday_holidays == [
        date(2025, 1, 1),  # New Year
        *(date(2025, 1, 28) + timedelta(n) for n in (0, 1, 2, 3)),  # Spring Festival Jan 28-31
        date(2025, 2, 3),
        date(2025, 2, 4),  # ... to Feb 4
        date(2025, 4, 4),  # Qingming Apr 4-6
        date(2025, 5, 1),
        date(2025, 5, 2),
        date(2025, 5, 5),  # Labour Day May 1-5
        date(2025, 6, 2),  # Dragon Boat May 31 - Jun 2
        *(date(2025, 10, n) for n in (1, 2, 3, 6, 7, 8)),  # National Day + Mid-Autumn Oct 1-8
    ]
    makeup = [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28)]
    makeup.append(date(2025, 10, 11))
    worked_weekends = [
        d
        for d in (date(2025, 1, 1) + timedelta(n) for n in range(365))
        if d.weekday() >= 5 and office.day(d).working
    ]
    assert worked_weekends == makeup
    assert all(office.day(d).kind == MAKEUP_WORKDAY for d in makeup)
    for first, last in [
        (date(2025, 1, 28), date(2025, 2, 4)),
        (date(2025, 4, 4), date(2025, 4, 6)),
        (date(2025, 5, 1), date(2025, 5, 5)),
        (date(2025, 5, 31), date(2025, 6, 2)),
        (date(2025, 10, 1), date(2025, 10, 8)),
    ]:
        assert off_days(office, first, last) == [
            first + timedelta(n) for n in range((last - first).days + 1)
        ]
        assert office.day(first - timedelta(1)).working or first.weekday() == 0
    assert office.day(date(2025, 1, 29)).reason == "春节"


def test_china_2026_as_the_package_gives_it() -> None:
    office = cn_office()
    makeup = [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]
    worked_weekends = [
        d
        for d in (date(2026, 1, 1) + timedelta(n) for n in range(365))
        if d.weekday() >= 5 and office.day(d).working and d != date(2026, 12, 27)
    ]
    assert worked_weekends == makeup
    for first, last in [
        (date(2026, 1, 1), date(2026, 1, 3)),  # New Year
        (date(2026, 2, 15), date(2026, 2, 23)),  # Spring Festival
        (date(2026, 4, 4), date(2026, 4, 6)),  # Qingming
        (date(2026, 5, 1), date(2026, 5, 5)),  # Labour Day
        (date(2026, 6, 19), date(2026, 6, 21)),  # Dragon Boat
        (date(2026, 9, 25), date(2026, 9, 27)),  # Mid-Autumn
        (date(2026, 10, 1), date(2026, 10, 7)),  # National Day
    ]:
        assert off_days(office, first, last) == [
            first + timedelta(n) for n in range((last - first).days + 1)
        ]
        assert office.day(first - timedelta(1)).working
        assert office.day(last + timedelta(1)).working


def test_years_without_official_data() -> None:
    office = cn_office()
    assert years_without_data(office, [2027, 2025, 2026, 2025]) == [2027]
    assert years_without_data(office, [1900]) == [1900]
    found, _ = parse({"de": {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}}})
    assert years_without_data(found["de"], [2030]) == []
    found, _ = parse({"de": {**CN_OFFICE, "holidays": "DE"}})
    assert years_without_data(found["de"], [2030]) == []
