"""Cron checks and ticks in a timezone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from opsflow.language.cron import check_cron, check_timezone, next_tick, previous_tick


@pytest.mark.parametrize(
    "expr", ["0 9 1 * *", "*/15 * * * *", "0 9 * * mon-fri", "@daily", "0 0 L * *", " 30 8 * * 1 "]
)
def test_good_crons_pass(expr: str) -> None:
    check_cron(expr)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty cron expression"),
        ("* * *", "has 3 fields; a cron has 5"),
        ("0 0 * * * 0", "has 6 fields"),
        ("61 * * * *", "minute field '61' is not valid (0-59)"),
        ("0 24 * * *", "hour field '24' is not valid (0-23)"),
        ("0 0 0 * *", "day-of-month field '0' is not valid"),
        ("0 0 * 13 *", "month field '13' is not valid"),
        ("0 0 * * 8", "day-of-week field '8' is not valid"),
        ("*/0 * * * *", "minute field '*/0' is not valid"),
        ("0 0 30 2 *", "never fires"),
        ("@reboot", "unknown cron nickname"),
    ],
)
def test_bad_crons_are_refused(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_cron(expr)


def test_timezones() -> None:
    assert str(check_timezone("Asia/Shanghai")) == "Asia/Shanghai"
    for bad in ("Asia/Shangai", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="timezone"):
            check_timezone(bad)


def test_ticks_are_computed_in_the_timezone_and_returned_in_utc() -> None:
    moment = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert next_tick("0 9 * * *", "Asia/Shanghai", moment) == datetime(2026, 1, 6, 1, tzinfo=UTC)
    assert previous_tick("0 9 * * *", "Asia/Shanghai", moment) == datetime(
        2026, 1, 5, 1, tzinfo=UTC
    )
    assert next_tick("0 9 1 * *", "UTC", datetime(2026, 1, 31)) == datetime(
        2026, 2, 1, 9, tzinfo=UTC
    )


def test_previous_tick_includes_a_tick_exactly_now_and_next_excludes_it() -> None:
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert previous_tick("0 9 * * *", "UTC", at) == at
    assert next_tick("0 9 * * *", "UTC", at) == datetime(2026, 3, 2, 9, tzinfo=UTC)
    just_before = datetime(2026, 3, 1, 8, 59, 59, 500000, tzinfo=UTC)
    assert previous_tick("0 9 * * *", "UTC", just_before) == datetime(2026, 2, 28, 9, tzinfo=UTC)


def test_dst_is_followed() -> None:
    # Berlin switches to summer time on 2026-03-29: 09:00 local is 08:00 UTC, then 07:00 UTC.
    first = next_tick("0 9 * * *", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC))
    second = next_tick("0 9 * * *", "Europe/Berlin", first)
    assert (first.hour, second.hour) == (7, 7)
    assert next_tick("0 9 * * *", "Europe/Berlin", datetime(2026, 3, 27, 12, tzinfo=UTC)).hour == 8
