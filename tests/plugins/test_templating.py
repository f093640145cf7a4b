"""Sandboxed Jinja2 rendering of messages and calculator params."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from opsflow.errors import Invalid
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
