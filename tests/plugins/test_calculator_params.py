"""Every built-in calculator declares its params, so validate can check them."""

from __future__ import annotations

from opsflow.plugins import load_plugins
from opsflow.templating import render_message, render_params

BUILTINS = {
    "count",
    "sum",
    "ratio",
    "dau",
    "mau",
    "stickiness",
    "growth_rate",
    "retention",
    "cohort_retention",
    "conversion_rate",
    "funnel",
    "roi",
    "budget_burn",
    "nps",
    "ab_test",
}


def test_every_builtin_calculator_has_a_params_model() -> None:
    plugins = load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert set(plugins.calculators) >= BUILTINS
    for name in BUILTINS:
        model = plugins.calculators[name].params_model
        assert model is not None, name
        assert model.model_fields, name


def test_source_and_operand_params_are_marked() -> None:
    plugins = load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"})
    fields = plugins.calculators["count"].params_model.model_fields
    assert fields["source"].json_schema_extra == {"opsflow": "source"}
    fields = plugins.calculators["ab_test"].params_model.model_fields
    assert fields["visitors_b"].json_schema_extra == {"opsflow": "operand"}
    assert fields["alpha"].json_schema_extra is None


def test_an_unset_field_renders_as_empty_text() -> None:
    variables = {"title": None, "metrics": {"reach": None}}
    assert render_message("[{{ title }}|{{ metrics.reach }}|{{ nothing }}]", variables) == "[||]"
    assert render_params({"date": "{{ title }}"}, variables) == {"date": ""}
