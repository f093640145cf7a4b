"""Typed field values: coercion to normal forms, bounds, CLI text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsflow.errors import FieldError
from opsflow.language.fields import coerce_value, is_empty, parse_text, to_python
from opsflow.language.models import FieldSpec


def spec(**options: Any) -> FieldSpec:
    return FieldSpec.model_validate(options)


@pytest.mark.parametrize(
    ("field", "value", "normal"),
    [
        (spec(type="string"), "héllo 你好", "héllo 你好"),
        (spec(type="text"), "", ""),
        (spec(type="integer", min=0), 0, 0),
        (spec(type="integer"), 3.0, 3),
        (spec(type="number"), 2.5, 2.5),
        (spec(type="number"), Decimal("2"), 2),
        (spec(type="boolean"), False, False),
        (spec(type="date"), "2026-12-01", "2026-12-01"),
        (spec(type="date"), date(2026, 12, 1), "2026-12-01"),
        (spec(type="datetime"), "2026-01-05T09:00", "2026-01-05T09:00:00+00:00"),
        (spec(type="datetime"), "2026-01-05T17:00:00+08:00", "2026-01-05T09:00:00+00:00"),
        (spec(type="datetime"), "2026-01-05T09:00:00Z", "2026-01-05T09:00:00+00:00"),
        (spec(type="datetime"), datetime(2026, 1, 5, 9), "2026-01-05T09:00:00+00:00"),
        (spec(type="enum", values=["article", "ad"]), "ad", "ad"),
        (spec(type="list"), ("a", 1), ["a", 1]),
        (spec(type="money"), "1234.5", "1234.50"),
        (spec(type="money"), 1234.5, "1234.50"),
        (spec(type="money"), Decimal("-3"), "-3.00"),
        (spec(type="money", min=0), 0, "0.00"),
        (spec(type="integer"), None, None),
    ],
)
def test_values_coerce_to_their_normal_form(field: FieldSpec, value: Any, normal: Any) -> None:
    assert coerce_value("f", field, value) == normal
    assert coerce_value("f", field, normal) == normal  # idempotent


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (spec(type="integer"), True, "must be an integer, not a boolean"),
        (spec(type="integer"), "3", "must be an integer"),
        (spec(type="integer"), 2.5, "must be an integer"),
        (spec(type="integer", min=0), -1, "must be >= 0"),
        (spec(type="integer", max=10), 11, "must be <= 10"),
        (spec(type="number"), False, "must be a number, not a boolean"),
        (spec(type="number"), float("nan"), "must be a finite number"),
        (spec(type="number"), float("inf"), "must be a finite number"),
        (spec(type="number", min=0.5), 0.25, "must be >= 0.5"),
        (spec(type="boolean"), "yes", "must be true or false"),
        (spec(type="date"), "2026-02-30", "must be a date that exists ('2026-02-30' does not)"),
        (spec(type="date"), "01/02/2026", "must be a date (YYYY-MM-DD)"),
        (
            spec(type="date"),
            datetime(2026, 1, 1),
            "must be a date (YYYY-MM-DD), not a date and time",
        ),
        (
            spec(type="datetime"),
            "tomorrow",
            "must be a date and time in ISO 8601 (2026-01-05T09:00:00Z)",
        ),
        (
            spec(type="datetime"),
            "2026-13-01T00:00",
            "must be a date and time that exists in ISO 8601 ('2026-13-01T00:00' is not)",
        ),
        (spec(type="enum", values=["article", "ad"]), "video", "'video' is not one of article, ad"),
        (
            spec(type="enum", values=["article", "ad"]),
            "articel",
            "'articel' is not one of article, ad (did you mean 'article'?)",
        ),
        (spec(type="string", max_length=3), "abcd", "must be at most 3 characters"),
        (spec(type="string"), 5, "must be a string"),
        (
            spec(type="string", pattern="[A-Z]{2}-\\d+"),
            "AB-12x",
            "must match the pattern '[A-Z]{2}-\\d+'",
        ),
        (spec(type="list"), "a,b", "must be a list"),
        (spec(type="list", max_length=1), ["a", "b"], "must have at most 1 items"),
        (spec(type="list"), [{"a": 1}], "must be a list of strings, numbers or booleans"),
        (spec(type="money"), "12.345", "must have at most 2 decimal places"),
        (spec(type="money"), "NaN", "must be a finite amount of money"),
        (spec(type="money"), True, "must be an amount of money like 1234.50"),
        (spec(type="money", min=0), "-0.01", "must be >= 0"),
        (spec(type="money"), "1e30", "is too large an amount"),
    ],
)
def test_bad_values_are_refused_with_a_reason(field: FieldSpec, value: Any, reason: str) -> None:
    with pytest.raises(FieldError) as caught:
        coerce_value("budget", field, value)
    assert caught.value.reason == reason
    assert caught.value.field == "budget"
    assert str(caught.value) == f"field 'budget': {reason}"


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (spec(type="integer"), "30000", 30000),
        (spec(type="integer"), " -5 ", -5),
        (spec(type="number"), "1.5", 1.5),
        (spec(type="number"), "30000", 30000),
        (spec(type="number"), "1e3", 1000.0),
        (spec(type="boolean"), "true", True),
        (spec(type="boolean"), "No", False),
        (spec(type="boolean"), "1", True),
        (spec(type="boolean"), "off", False),
        (spec(type="date"), "2026-12-01", "2026-12-01"),
        # checked, and kept as typed: the step reads it in the project's time zone
        (spec(type="datetime"), " 2026-12-01 09:30 ", "2026-12-01 09:30"),
        (spec(type="list"), "a,b", ["a", "b"]),
        (spec(type="list"), " a , b ,", ["a", "b"]),
        (spec(type="list"), '["a", 2]', ["a", 2]),
        (spec(type="money"), "1234.5", "1234.50"),
        (spec(type="string"), " spaced ", " spaced "),
        (spec(type="enum", values=["a", "b"]), "b", "b"),
        (spec(type="integer"), "", None),
        (spec(type="string"), "", None),
    ],
)
def test_cli_text_is_parsed_by_the_declared_type(field: FieldSpec, text: str, value: Any) -> None:
    assert parse_text("f", field, text) == value


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (spec(type="integer"), "3.5"),
        (spec(type="integer"), "1e3"),
        (spec(type="number"), "nan"),
        (spec(type="boolean"), "maybe"),
        (spec(type="list"), "[1,"),
        (spec(type="list"), "[[1]]"),
        (spec(type="date"), "2026-02-30"),
        (spec(type="datetime"), "2026-02-30 09:00"),
        (spec(type="datetime"), "tomorrow"),
    ],
)
def test_bad_cli_text_is_refused(field: FieldSpec, text: str) -> None:
    with pytest.raises(FieldError):
        parse_text("f", field, text)


SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("2026-12-05T18:30", "2026-12-05T10:30:00+00:00"),  # a wall-clock time in Shanghai
        ("2026-12-05 18:30:00", "2026-12-05T10:30:00+00:00"),
        (datetime(2026, 12, 5, 18, 30), "2026-12-05T10:30:00+00:00"),
        (date(2026, 12, 5), "2026-12-04T16:00:00+00:00"),  # midnight there
        ("2026-12-05T18:30:00Z", "2026-12-05T18:30:00+00:00"),  # an offset stays as given
        ("2026-12-05T18:30:00+01:00", "2026-12-05T17:30:00+00:00"),
        (datetime(2026, 12, 5, 18, 30, tzinfo=UTC), "2026-12-05T18:30:00+00:00"),
    ],
)
def test_a_naive_datetime_is_read_in_the_zone_given(value: Any, normal: str) -> None:
    assert coerce_value("publish_at", spec(type="datetime"), value, SHANGHAI) == normal
    assert coerce_value("publish_at", spec(type="datetime"), normal, SHANGHAI) == normal


def test_a_naive_datetime_is_read_across_a_daylight_saving_change() -> None:
    new_york = ZoneInfo("America/New_York")
    field = spec(type="datetime")
    assert coerce_value("f", field, "2026-07-01T09:00", new_york) == "2026-07-01T13:00:00+00:00"
    assert coerce_value("f", field, "2026-12-01T09:00", new_york) == "2026-12-01T14:00:00+00:00"


def test_a_naive_datetime_out_of_range_in_the_zone_is_refused() -> None:
    with pytest.raises(FieldError) as caught:
        coerce_value("f", spec(type="datetime"), "0001-01-01T03:00", SHANGHAI)
    assert caught.value.reason == (
        "is out of range ('0001-01-01T03:00' is not in years 1 to 9999 in UTC)"
    )


def test_to_python_gives_rich_values() -> None:
    assert to_python(spec(type="date"), "2026-12-01") == date(2026, 12, 1)
    assert to_python(spec(type="datetime"), "2026-01-05T09:00:00+00:00") == datetime(
        2026, 1, 5, 9, tzinfo=UTC
    )
    assert to_python(spec(type="money"), "1234.50") == Decimal("1234.50")
    assert to_python(spec(type="integer"), 3) == 3
    assert to_python(spec(type="date"), None) is None


@pytest.mark.parametrize(
    ("value", "empty"),
    [(None, True), ("", True), ([], True), ({}, True), (0, False), (False, False), (" ", False)],
)
def test_is_empty(value: Any, empty: bool) -> None:
    assert is_empty(value) is empty
