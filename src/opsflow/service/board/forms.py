"""A workflow's fields as an HTML form (the case page and the start page share it).

Presentation only: the controls follow the field types ``GET /v1/workflows/{id}``
describes, and what a person typed goes to the engine as text (``text=``), which parses
it by the case's own field types, exactly as ``--set`` does. The engine's refusals name
their field (``field 'budget': must be >= 0``): :func:`problems_by_field` puts each beside
its input, as a kind the templates say in the viewer's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from starlette.datastructures import FormData

from opsflow.clock import local

PREFIX = "field."  # a form's field inputs: ``field.title`` (never ``csrf_token`` or ``comment``)
MAX_TEXT = 100_000  # characters of one typed value read from a form
_INPUT_TYPES = {
    "integer": "number",
    "number": "number",
    "money": "number",
    "date": "date",
    "datetime": "datetime-local",
}
_FIELD_REASON = re.compile(r"^field '(?P<name>[^']+)'(?::\s*|\s+)(?P<reason>.*)$", re.S)
# What the engine says of a value (language.fields), as a kind the templates translate.
_KINDS: Sequence[tuple[str, re.Pattern[str]]] = [
    ("required", re.compile(r"^is required")),
    ("too_long", re.compile(r"^must be at most (?P<n>\d+) characters")),
    ("at_least", re.compile(r"^must be >= (?P<n>\S+)$")),
    ("at_most", re.compile(r"^must be <= (?P<n>\S+)$")),
    ("integer", re.compile(r"^must be an integer")),
    ("number", re.compile(r"^must be a (finite )?number")),
    ("money", re.compile(r"^must (be an amount of money|have at most 2 decimal)")),
    ("date", re.compile(r"^must be a date( that exists)? \(YYYY|^must be a date that exists")),
    ("datetime", re.compile(r"^must be a date and time")),
    ("pattern", re.compile(r"^must match the pattern '(?P<pattern>.*)'$", re.S)),
    ("choice", re.compile(r"^.* is not one of ")),
    ("boolean", re.compile(r"^must be true or false")),
]


@dataclass(frozen=True)
class Problem:
    """One refusal of a value: a kind the templates word (``other``: the engine's text)."""

    kind: str
    text: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class FormField:
    """One input of a generated form."""

    name: str
    spec: Mapping[str, Any]  # the field as ``GET /v1/workflows/{id}`` describes it
    control: str  # input, textarea, select, checkbox
    input_type: str  # the <input type> (text, number, date, datetime-local)
    value: str  # the text shown in the control
    checked: bool
    step: str | None
    problem: Problem | None
    low: str | None = None  # the bounds of a number, as written (0, not 0.0)
    high: str | None = None

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    @property
    def dom_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", self.name)


def fields_of(spec: Any) -> list[dict[str, Any]]:
    """A workflow version's fields (a ``WorkflowSpec``'s) as ``GET /v1/workflows/{id}``
    describes them: the form of a case pinned to an older version than the current."""
    return [
        {
            "name": name,
            "type": field.type,
            "title": field.title,
            "description": field.description,
            "required": field.required,
            "default": field.default,
            "min": field.min,
            "max": field.max,
            "max_length": field.max_length,
            "pattern": field.pattern,
            "values": list(field.values) if field.values is not None else None,
        }
        for name, field in spec.fields.items()
    ]


def shown(spec: Mapping[str, Any], value: Any, zone: tzinfo = UTC) -> str:
    """A stored value as its form control holds it (``""``: not set); a datetime on the
    clocks of ``zone``, the project's time zone, where the engine reads what is sent back."""
    if value is None:
        return ""
    kind = spec["type"]
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        moment = local(moment, zone) if moment.tzinfo else moment
        return moment.isoformat(timespec="seconds")[:19]  # datetime-local: no offset
    if kind == "list" and isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def form_fields(
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    problems: Mapping[str, Problem] | None = None,
    typed: Mapping[str, str] | None = None,
    zone: tzinfo = UTC,
) -> list[FormField]:
    """The workflow's fields as inputs holding ``values`` (stored, datetimes on the clocks
    of ``zone``) or ``typed`` (as sent)."""
    out = []
    for spec in view["fields"]:
        name, kind = spec["name"], spec["type"]
        if typed is not None and name in typed:
            text = typed[name]
        else:
            text = shown(spec, values.get(name), zone)
        control = "input"
        if kind == "text":
            control = "textarea"
        elif kind == "enum":
            control = "select"
        elif kind == "boolean":
            control = "checkbox"
        step = {"integer": "1", "money": "0.01", "number": "any", "datetime": "1"}.get(kind)
        out.append(
            FormField(
                name=name,
                spec=spec,
                control=control,
                input_type=_INPUT_TYPES.get(kind, "text"),
                value=text,
                checked=text == "true",
                step=step,
                problem=(problems or {}).get(name),
                low=_bound(spec.get("min")),
                high=_bound(spec.get("max")),
            )
        )
    return out


def _bound(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def typed_values(form: FormData, view: Mapping[str, Any]) -> dict[str, str]:
    """What the form sent for each field of ``view`` (a checkbox: its last value)."""
    typed: dict[str, str] = {}
    for spec in view["fields"]:
        sent = [v for v in form.getlist(PREFIX + spec["name"]) if isinstance(v, str)]
        if sent:
            typed[spec["name"]] = sent[-1][:MAX_TEXT]
    return typed


def changed_text(
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    typed: Mapping[str, str],
    zone: tzinfo = UTC,
) -> dict[str, str]:
    """The typed values that differ from what the form showed of ``values`` (in ``zone``)."""
    specs = {spec["name"]: spec for spec in view["fields"]}
    return {
        name: text
        for name, text in typed.items()
        if text.strip() != shown(specs[name], values.get(name), zone).strip()
    }


def problem_of(reason: str) -> Problem:
    """The kind of one value's refusal (the text after ``field 'x':``)."""
    for kind, pattern in _KINDS:
        found = pattern.search(reason)
        if found:
            params = {k: v for k, v in found.groupdict().items() if v is not None}
            return Problem(kind, reason, params)
    return Problem("other", reason, {})


def problems_by_field(
    reasons: Sequence[str], names: Sequence[str]
) -> tuple[dict[str, Problem], list[str]]:
    """The refusal's reasons beside their fields, and those that name no field of ``names``."""
    by_field: dict[str, Problem] = {}
    general: list[str] = []
    for reason in reasons:
        found = _FIELD_REASON.match(reason)
        if found and found["name"] in names and found["name"] not in by_field:
            by_field[found["name"]] = problem_of(found["reason"])
        else:
            general.append(reason)
    return by_field, general


__all__ = [
    "PREFIX",
    "FormField",
    "Problem",
    "changed_text",
    "fields_of",
    "form_fields",
    "problem_of",
    "problems_by_field",
    "shown",
    "typed_values",
]
