"""Titles and descriptions as text or per locale: the check, the choice, the JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from opsflow.language.models import StateSpec, WorkflowSpec
from opsflow.language.schema import workflow_json_schema
from opsflow.language.text import check_text, locale_tag, localized

TITLE = {"zh-CN": "内容审批", "en": "Content approval"}


@pytest.mark.parametrize(
    ("tag", "usual"),
    [
        ("zh-CN", "zh-CN"),
        ("zh_cn", "zh-CN"),
        ("EN", "en"),
        ("en-gb", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("yue", "yue"),
    ],
)
def test_locale_tags_are_spelt_the_usual_way(tag: str, usual: str) -> None:
    assert locale_tag(tag) == usual


@pytest.mark.parametrize("tag", ["english", "e", "zh-", "zh-CN-x", "中文", "", "en GB", "1a"])
def test_what_is_not_a_locale_tag(tag: str) -> None:
    assert locale_tag(tag) is None


@pytest.mark.parametrize(
    ("locale", "fallback", "chosen"),
    [
        ("zh-CN", None, "内容审批"),
        ("en", None, "Content approval"),
        ("en-GB", None, "Content approval"),  # the same language
        ("zh", None, "内容审批"),  # zh finds zh-CN
        ("zh_cn", None, "内容审批"),  # tags ignore case and _ / -
        ("fr", "en", "Content approval"),  # the fallback locale
        ("fr", "en-US", "Content approval"),  # the fallback's language
        ("fr", None, "内容审批"),  # else the first text
        (None, None, "内容审批"),
        ("not a tag", "en", "Content approval"),
    ],
)
def test_localized_picks_exact_then_language_then_fallback_then_first(
    locale: str | None, fallback: str | None, chosen: str
) -> None:
    assert localized(TITLE, locale, fallback) == chosen


def test_localized_prefers_the_language_alone_to_another_region() -> None:
    texts = {"en-US": "Color", "en": "Colour (any)", "zh": "颜色"}
    assert localized(texts, "en-GB") == "Colour (any)"
    assert localized({"en-US": "Color", "zh": "颜色"}, "en-GB") == "Color"
    assert localized({"zh": "颜色", "en": "Colour"}, "zh-CN") == "颜色"


def test_localized_keeps_plain_text_and_none() -> None:
    assert localized("审核 Review", "en") == "审核 Review"
    assert localized(None, "en", "zh-CN") is None


def test_the_models_keep_both_forms_with_tags_normalised() -> None:
    state = StateSpec.model_validate({"title": {"ZH_cn": "草稿", "en": "Draft"}})
    assert state.title == {"zh-CN": "草稿", "en": "Draft"}
    assert StateSpec.model_validate({"title": "草稿 Draft"}).title == "草稿 Draft"
    assert StateSpec.model_validate({}).title is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "an empty map: give the text in at least one locale (zh-CN: …, en: …)"),
        ("", "empty text: write the text, or leave the key out"),
        ("  ", "empty text: write the text, or leave the key out"),
        (3, "expected text or a map of locale to text (zh-CN: …, en: …), not a number"),
        (["a"], "expected text or a map of locale to text (zh-CN: …, en: …), not a list"),
        ({"english": "x"}, "'english' is not a locale tag: use a language code with an"),
        ({1: "x"}, "'1' is not a locale tag"),
        ({"zh-CN": 5}, "the zh-CN value must be text, not a number"),
        ({"en": None}, "the en value must be text, not empty"),
        ({"en": ""}, "the en text is empty"),
        ({"en": "a", "EN": "b"}, "the locale en is given twice (tags ignore case)"),
    ],
)
def test_bad_texts_are_refused_with_a_reason(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        check_text(value)


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft7Validator(workflow_json_schema())


def _workflow(title: Any) -> dict[str, Any]:
    return {
        "workflow": "w",
        "version": 1,
        "title": title,
        "states": {"a": {"initial": True, "title": title}, "b": {"final": True}},
        "transitions": [{"event": "go", "from": "a", "to": "b", "description": title}],
        "fields": {"f": {"type": "string", "title": title, "description": title}},
    }


@pytest.mark.parametrize("title", ["内容审批", TITLE, {"zh_CN": "审批"}, {"en-GB": "Approval"}])
def test_the_json_schema_takes_both_forms(title: Any) -> None:
    assert list(_validator().iter_errors(_workflow(title))) == []
    WorkflowSpec.model_validate(_workflow(title))  # and so does the loader's model


@pytest.mark.parametrize("title", [{}, "", {"english": "x"}, {"en": 3}, {"en": ""}, ["x"], 5])
def test_the_json_schema_refuses_what_validate_refuses(title: Any) -> None:
    errors = list(_validator().iter_errors(_workflow(title)))
    assert {error.path[0] for error in errors} == {"title", "states", "transitions", "fields"}
    with pytest.raises(ValidationError) as refused:
        WorkflowSpec.model_validate(_workflow(title))
    assert refused.value.error_count() == 5  # each place the title is given
