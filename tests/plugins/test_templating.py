"""Sandboxed Jinja2 rendering of messages and calculator params."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsflow.errors import Invalid
from opsflow.template_filters import ZONE_VARIABLE
from opsflow.templating import compile_template, render_message, render_params

VARIABLES = {
    "title": "春季促销",
    "budget": Decimal("120000.00"),
    "period_end": date(2026, 1, 31),
    "metrics": {"engagement_rate": 0.031},
    "state": "brand_review",
}


def test_render_message() -> None:
    text = "「{{ title }}」 budget {{ budget }} in {{ state }}, rate {{ metrics.engagement_rate }}"
    assert render_message(text, VARIABLES) == (
        "「春季促销」 budget 120000.00 in brand_review, rate 0.031"
    )


def test_missing_fields_render_empty() -> None:
    assert render_message("[{{ nope }}][{{ nope.deeper }}][{{ metrics.nope }}]", {}) == "[][][]"


def test_no_autoescape() -> None:
    assert render_message("{{ t }}", {"t": "<b>&</b>"}) == "<b>&</b>"


def test_render_params_renders_strings_only() -> None:
    params = {
        "source": "app_events",
        "date": "{{ period_end }}",
        "steps": ["view", "{{ state }}"],
        "window": {"end": "{{ period_end }}"},
        "alpha": 0.05,
        "flag": True,
    }
    assert render_params(params, VARIABLES) == {
        "source": "app_events",
        "date": "2026-01-31",
        "steps": ["view", "brand_review"],
        "window": {"end": "2026-01-31"},
        "alpha": 0.05,
        "flag": True,
    }


def test_templates_are_compiled_once() -> None:
    source = "{{ title }} cached"
    first = compile_template(source)
    assert compile_template(source) is first


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ title ", "template error: unexpected end of template"),
        ("{% for %}", "template error"),
        ("{{ 'x' * 1000000000 }}", "too long"),
        ("{{ [1] * 1000000 }}", "too long"),
        ("{{ 2 ** 100000 }}", "exponent"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "template error"),
    ],
)
def test_bad_or_hostile_templates_are_invalid(template: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        render_message(template, {})


def test_param_errors_name_the_param() -> None:
    with pytest.raises(Invalid, match=r"^param 'window.end': template error"):
        render_params({"window": {"end": "{{ 1 / 0 }}"}}, {})


def test_the_sandbox_keeps_the_case_read_only() -> None:
    data = {"tags": ["a"]}
    with pytest.raises(Invalid):
        render_message("{{ tags.append('b') }}", data)
    assert data == {"tags": ["a"]}


# -- | local: a time on the project's clocks ----------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")


def render_local(template: str, zone: Any = SHANGHAI, **values: Any) -> str:
    return render_message(template, {**values, ZONE_VARIABLE: zone})


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-05T10:30:00+00:00", "2026-12-05 18:30 +08:00"),  # a stored datetime value
        (datetime(2026, 12, 5, 10, 30, tzinfo=UTC), "2026-12-05 18:30 +08:00"),
        ("2026-12-05T18:30", "2026-12-05 18:30 +08:00"),  # naive text: already local
        ("2026-12-05T18:30:00Z", "2026-12-06 02:30 +08:00"),
        ("2026-12-05", "2026-12-05"),  # a date has no time of day: as it is
        (date(2026, 12, 5), "2026-12-05"),
        (None, ""),  # unset: empty, as any unset field
        ("next Tuesday", "next Tuesday"),  # not a time: as given
        ("2026-13-45T99:00", "2026-13-45T99:00"),
        (42, "42"),
        (["2026-12-05T10:30:00+00:00"], "['2026-12-05T10:30:00+00:00']"),
    ],
)
def test_local_shows_a_time_on_the_project_clocks(value: Any, shown: str) -> None:
    assert render_local("{{ publish_at | local }}", publish_at=value) == shown


def test_local_of_an_unknown_name_renders_empty() -> None:
    assert render_local("[{{ nope | local }}][{{ metrics.nope | local }}]", metrics={}) == "[][]"


def test_local_in_a_utc_project_says_utc() -> None:
    text = "{{ publish_at | local }}"
    assert render_local(text, UTC, publish_at="2026-12-05T10:30:00+00:00") == (
        "2026-12-05 10:30 UTC"
    )
    # no zone among the variables (a calculator param of a schedule): UTC
    assert render_message(text, {"publish_at": "2026-12-05T10:30:00+00:00"}) == (
        "2026-12-05 10:30 UTC"
    )


def test_local_follows_daylight_saving() -> None:
    new_york = ZoneInfo("America/New_York")
    text = "{{ a | local }} / {{ b | local }}"
    assert render_local(
        text, new_york, a="2026-07-01T13:00:00+00:00", b="2026-12-01T14:00:00+00:00"
    ) == ("2026-07-01 09:00 -04:00 / 2026-12-01 09:00 -05:00")


def test_local_at_the_end_of_time_stays_in_range() -> None:
    text = "{{ publish_at | local }}"
    assert render_local(text, publish_at="9999-12-31T23:00:00+00:00") == "9999-12-31 23:00 +00:00"


def test_local_does_not_parse_long_text() -> None:
    long = "2026-12-05T10:30:00+00:00" + " " * 100
    assert render_local("{{ note | local }}", note=long) == long
