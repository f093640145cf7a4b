"""Durations: compact and ISO 8601 forms, refused ones."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from opsflow.language.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d 12h 30m", timedelta(days=1, hours=12, minutes=30)),
        ("P2DT4H", timedelta(days=2, hours=4)),
        ("PT30M", timedelta(minutes=30)),
        ("P1W", timedelta(weeks=1)),
        ("PT1.5H", timedelta(minutes=90)),
        ("PT0,5S", timedelta(milliseconds=500)),
        ("p1d", timedelta(days=1)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration"),
        ("0h", "is zero"),
        ("PT0S", "is zero"),
        ("-2d", "is negative"),
        ("2 days", "unknown unit 'days'"),
        ("3M", "months and years have no fixed length"),
        ("12h1d", "largest first"),
        ("1h1h", "largest first"),
        ("P1M", "years or months"),
        ("P1Y", "years or months"),
        ("P", "is not an ISO 8601 duration"),
        ("P1DT", "is not an ISO 8601 duration"),
        ("P1W2D", "cannot be combined"),
        ("soon", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("200000d", "longer than 100 years"),
    ],
)
def test_bad_durations_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_duration(text)


def test_non_text_is_refused() -> None:
    with pytest.raises(ValueError, match="a duration is text"):
        parse_duration(30)  # type: ignore[arg-type, unused-ignore]


@pytest.mark.parametrize("text", ["30m", "4h", "1d12h", "1w2d3h4m5s"])
def test_format_is_the_inverse(text: str) -> None:
    assert format_duration(parse_duration(text)) == text
