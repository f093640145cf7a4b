"""Checks of a metric's params against the params model its calculator declares.

Unknown, missing and mistyped params are reported when the workflow loads. A string param
holding a template is rendered when the metric is computed, so only the names it reads are
checked. A param marked ``{"opsflow": "source"}`` (in the model field's
``json_schema_extra``) names a configured source; one marked ``{"opsflow": "operand"}``
is a number, a field name or a metric name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from opsflow.language.models import MetricSpec
from opsflow.language.template_names import is_template
from opsflow.language.yamlio import YamlPath
from opsflow.suggest import did_you_mean

if TYPE_CHECKING:
    from opsflow.language.check_site import CheckSite

SOURCE = "source"
OPERAND = "operand"
_NUMBER_TYPES = (int, float)


def marker(info: Any) -> str | None:
    """The opsflow marker of a model field (``source``, ``operand``), if any."""
    extra = getattr(info, "json_schema_extra", None)
    return extra.get("opsflow") if isinstance(extra, Mapping) else None


def check_metric_params(checker: CheckSite, name: str, spec: MetricSpec) -> None:
    """Every param of metric ``name``: templates, and the model's names and types."""
    base: YamlPath = ("metrics", name, "params")
    label = f"metric '{name}' (calculator '{spec.calculator}')"
    for key, value in spec.params.items():
        check_templates(checker, (*base, key), value, f"param '{key}' of {label}")
    model = checker.ctx.params_model(spec.calculator)
    if model is None:
        return
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        fields[info.alias or field_name] = info
    suggested = _unknown_keys(checker, base, spec.params, fields, model, label)
    templated = {k for k, v in spec.params.items() if isinstance(v, str) and is_template(v)}
    static = {k: v for k, v in spec.params.items() if k in fields and k not in templated}
    try:
        model.model_validate(static)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            _report_error(checker, name, spec, error, templated | suggested, label)
    for key, value in static.items():
        kind = marker(fields[key])
        if kind == SOURCE:
            check_source(checker, (*base, key), value, label)
        elif kind == OPERAND:
            check_operand(checker, (*base, key), key, value, label)


def _unknown_keys(
    checker: CheckSite,
    base: YamlPath,
    params: Mapping[str, Any],
    fields: Mapping[str, Any],
    model: Any,
    label: str,
) -> set[str]:
    """Report params the model does not declare; the declared names suggested for them."""
    config = getattr(model, "model_config", {}) or {}
    if config.get("extra") != "forbid":
        return set()
    suggested: set[str] = set()
    for key in params:
        if key in fields:
            continue
        hint = did_you_mean(str(key), fields)
        if hint:
            suggested.add(hint.split("'")[1])
        known = ", ".join(fields)
        checker.report(
            (*base, key),
            f"{label} has unknown param '{key}'{hint}; its params are {known}",
            key=True,
        )
    return suggested


def _report_error(
    checker: CheckSite, name: str, spec: MetricSpec, error: Any, skipped: set[str], label: str
) -> None:
    loc = tuple(error.get("loc") or ())
    kind = error.get("type")
    key = loc[0] if loc else None
    if kind == "extra_forbidden" or (key is None and skipped):
        return
    if kind == "missing":
        if key in skipped:
            return
        where: YamlPath = ("metrics", name, "params") if spec.params else ("metrics", name)
        checker.report(where, f"{label} is missing the param '{key}'")
        return
    text = str(error.get("msg", kind)).removeprefix("Value error, ")
    text = text[:1].lower() + text[1:]
    if key is None:
        checker.report(("metrics", name, "params"), f"{label}: {text}")
        return
    value = spec.params.get(str(key))
    checker.report(
        ("metrics", name, "params", *loc),
        f"{label}: param '{key}' is {_show(value)}, which is refused: {text}",
    )


def check_source(checker: CheckSite, where: YamlPath, value: Any, label: str) -> None:
    """A source param names a source of the project configuration."""
    known = checker.ctx.sources
    if known is None or not isinstance(value, str) or value in known:
        return
    hint = did_you_mean(value, known) if known else " (no sources are configured in opsflow.yaml)"
    checker.report(where, f"{label} reads unknown source '{value}'{hint}")


def check_operand(checker: CheckSite, where: YamlPath, key: str, value: Any, label: str) -> None:
    """An operand param is a number, or names a field or a metric."""
    if value is None or (isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool)):
        return
    if not isinstance(value, str):
        checker.report(
            where,
            f"{label}: param '{key}' is {_show(value)}; it must be a number, "
            "a field name or a metric name",
        )
        return
    if _is_number_text(value):
        return
    fields, metrics = checker.parts.field_names, checker.parts.metric_names
    if fields is None or metrics is None or value in fields or value in metrics:
        return
    checker.report(
        where,
        f"{label}: param '{key}' is '{value}', which is neither a number, a "
        "field nor a metric" + did_you_mean(value, fields | metrics),
    )


def check_templates(checker: CheckSite, where: YamlPath, value: Any, what: str) -> None:
    """The templates in a param value (nested lists and mappings too) read known names."""
    if isinstance(value, str) and is_template(value):
        checker.check_template(where, value, what)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_templates(checker, (*where, key), item, what)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_templates(checker, (*where, index), item, what)


def _is_number_text(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if not isinstance(value, list | dict) else "a " + type(value).__name__
