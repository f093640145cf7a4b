"""Structural validation of a workflow document: pydantic errors as located diagnostics.

Pydantic checks the whole document against :class:`WorkflowSpec` and reports every
structural problem at once; each error becomes a diagnostic at the mark of the offending
key or value. Then the sections are validated item by item, so that the cross-reference and
graph checks can still run on the parts that are sound (:class:`WorkflowParts`): one bad
transition does not hide an unknown state named by another.
"""

from __future__ import annotations

import contextlib
import re
import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from opsflow.language.diagnostics import Diagnostic
from opsflow.language.models import (
    FIELD_TYPES,
    IDENTIFIER_PATTERN,
    FieldSpec,
    MetricSpec,
    RuleSpec,
    ScheduleSpec,
    StateSpec,
    TransitionSpec,
    WorkflowSpec,
)
from opsflow.language.yamlio import YamlDocument, YamlPath, bool_trap_hint
from opsflow.suggest import closest, did_you_mean

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_NAMED_SECTIONS = {"states": "state", "fields": "field", "metrics": "metric"}
_LISTED_SECTIONS = {"transitions": "transition", "rules": "rule"}
_NAME_KINDS = {
    "workflow": "workflow id",
    "event": "event name",
    "to": "state name",
    "from": "state name",
    "roles": "role name",
    "requires": "field name",
    "not_by": "event name",
    "fire": "event name",
    "at": "field name",
    "compute": "metric name",
    "channel": "channel name",
    "name": "rule name",
    "states": "state name",
    "fields": "field name",
    "metrics": "metric name",
    "set": "field name",
    "data": "field name",
}
_TYPE_REASONS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
}
_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}


@dataclass
class WorkflowParts:
    """The sound parts of a workflow document, and the names it declares (even broken ones).

    A ``*_names`` set (and ``roles``, ``events``) is None when its section is not even a
    mapping (a list): checks against it are skipped rather than reporting every name.
    """

    workflow: str | None = None
    roles: set[str] | None = field(default_factory=set)
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    field_names: set[str] | None = field(default_factory=set)
    states: dict[str, StateSpec] = field(default_factory=dict)
    state_names: set[str] | None = field(default_factory=set)
    transitions: list[tuple[int, TransitionSpec]] = field(default_factory=list)
    metrics: dict[str, MetricSpec] = field(default_factory=dict)
    metric_names: set[str] | None = field(default_factory=set)
    rules: list[tuple[int, RuleSpec]] = field(default_factory=list)
    schedule: ScheduleSpec | None = None
    states_complete: bool = True
    transitions_complete: bool = True
    events: set[str] | None = field(default_factory=set)

    @property
    def complete(self) -> bool:
        """Whether every state and every transition validated (the graph checks need it)."""
        return self.states_complete and self.transitions_complete


class Describer:
    """Names places in a document for messages: ``state 'draft'``, ``transition 4 ('approve')``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def anchor(self, path: YamlPath) -> str | None:
        """The description of ``path`` when it is one of the named places, else None."""
        if path == ():
            return "workflow"
        if path == ("schedule",):
            return "schedule"
        if len(path) != 2 or not isinstance(path[0], str):
            return None
        section, key = path
        if section in _NAMED_SECTIONS and isinstance(key, str):
            return f"{_NAMED_SECTIONS[section]} '{key}'"
        if section in _LISTED_SECTIONS and isinstance(key, int):
            item = value_at(self.data, path)
            label = (
                item.get("event" if section == "transitions" else "name")
                if isinstance(item, dict)
                else None
            )
            if section == "rules" and isinstance(label, str):
                return f"rule '{label}'"
            suffix = f" ('{label}')" if isinstance(label, str) else ""
            return f"{_LISTED_SECTIONS[section]} {key + 1}{suffix}"
        return None

    def describe(self, path: YamlPath) -> str:
        """``state 'draft'``, ``'sla.within' of state 'draft'``, ``'version'``."""
        own = self.anchor(path)
        if own is not None:
            return own
        for cut in range(len(path) - 1, -1, -1):
            base = self.anchor(path[:cut])
            if base is not None:
                tail = _dotted(path[cut:])
                return f"'{tail}'" if cut == 0 else f"'{tail}' of {base}"
        return f"'{_dotted(path)}'"


def _dotted(path: YamlPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def value_at(data: Any, path: YamlPath) -> Any:
    """The value at ``path`` in parsed YAML data, or None where the path does not exist."""
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _set(data: Any, path: YamlPath, value: Any) -> None:
    parent = value_at(data, path[:-1])
    last = path[-1]
    if isinstance(parent, list) and isinstance(last, int):
        parent[last] = value
    elif isinstance(parent, dict):
        parent[last] = value  # noqa: SIM114 - the branches narrow types differently


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _model_at(path: YamlPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path``, if any."""
    current: Any = WorkflowSpec
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            found = None
            for name, info in current.model_fields.items():
                if part in (name, info.alias):
                    found = info.annotation
            if found is None:
                return None
            current = found
            continue
        origin = get_origin(current)
        if origin is list and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict and isinstance(part, str):
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _known_keys(path: YamlPath) -> list[str]:
    model = _model_at(path)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty"
    return "text"


def translate_errors(
    exc: ValidationError, doc: YamlDocument, path: str, describer: Describer
) -> list[Diagnostic]:
    """Turn pydantic's errors into diagnostics at the marks of the offending nodes."""
    out: list[Diagnostic] = []
    errors = exc.errors(include_url=False)
    misspelt: set[YamlPath] = set()  # (parent..., key) that an unknown key is a typo of
    for error in errors:
        extra: YamlPath = tuple(error["loc"])
        if error["type"] == "extra_forbidden" and extra:
            close = closest(str(extra[-1]), _known_keys(extra[:-1]))
            if close is not None:
                misspelt.add((*extra[:-1], close))
    for error in errors:
        loc: YamlPath = tuple(error["loc"])
        kind = error["type"]
        value = error.get("input")
        at_key = bool(loc) and loc[-1] == "[key]"
        where = loc[:-1] if at_key else loc
        if where in doc.error_paths:
            continue  # the YAML layer already explained this node
        if kind == "missing" and where in misspelt:
            continue  # "unknown key 'form' (did you mean 'from'?)" says it all
        key = kind == "extra_forbidden" or at_key
        line, col = doc.locate(where, key=key)
        if kind == "missing":
            line, col = doc.locate(where[:-1])
        message = _message(kind, error, loc, where, value, describer)
        out.append(Diagnostic(path, line, col, "error", message))
    return out


def _message(
    kind: str, error: Any, loc: YamlPath, where: YamlPath, value: Any, describer: Describer
) -> str:
    name = describer.describe(where)
    last = where[-1] if where else ""
    if kind == "extra_forbidden":
        parent = where[:-1]
        return f"unknown key '{last}' in {describer.describe(parent)}" + did_you_mean(
            str(last), _known_keys(parent)
        )
    if kind == "missing":
        return f"{describer.describe(where[:-1])} is missing the required key '{last}'"
    if kind == "string_pattern_mismatch":
        names = [p for p in where if isinstance(p, str)]
        section = (
            names[-2] if loc[-1] == "[key]" and len(names) >= 2 else (names[-1] if names else "")
        )
        what = _NAME_KINDS.get(str(section), "name")
        return (
            f"'{value}' is not a valid {what}: use lower-case letters, digits and '_', "
            "starting with a letter"
        )
    if kind == "literal_error":
        expected = FIELD_TYPES if last == "type" else ()
        if expected:
            hint = did_you_mean(str(value), expected) if isinstance(value, str) else ""
            return (
                f"unknown field type '{value}'{hint} in {describer.describe(where[:-1])}; "
                f"use one of {', '.join(expected)}"
            )
        expected_values = error.get("ctx", {}).get("expected", "")
        return f"{name} is {value!r}, which is not one of {expected_values}"
    if kind in _TYPE_REASONS:
        reason = _TYPE_REASONS[kind]
        if kind in (
            "string_type",
            "list_type",
            "dict_type",
            "model_type",
            "int_type",
            "bool_type",
            "model_attributes_type",
        ):
            reason += f", not {_type_word(value)}"
        return f"{name} {reason}"
    if kind in _BOUNDS:
        bound = next(iter(error.get("ctx", {}).values()), "?")
        return f"{name} must be {_BOUNDS[kind]} {bound}"
    text = str(error.get("msg", kind)).removeprefix("Value error, ")
    return f"{name}: {text[:1].lower()}{text[1:]}"


def _boolean_meant(path: YamlPath, data: dict[str, Any]) -> bool | None:
    """Whether a boolean (True), a string (False) or either (None) is meant at ``path``."""
    strs = [p for p in path if isinstance(p, str)]
    last = path[-1] if path else None
    if len(path) == 3 and path[0] == "states" and last in ("initial", "final"):
        return True
    if path[:1] == ("transitions",) and (
        path[2:] == ("auto",) or path[2:] == ("approvals", "veto")
    ):
        return True
    if path[:1] == ("rules",) and path[2:] == ("once",):
        return True
    if len(path) == 3 and path[0] == "fields" and last == "required":
        return True
    if "params" in strs and path[0] == "metrics":
        return None
    field_name = None
    if len(path) == 3 and path[0] == "fields" and last == "default":
        field_name = path[1]
    elif len(path) >= 2 and path[-2] in ("set", "data") and isinstance(last, str):
        field_name = last
    if field_name is not None:
        spec = value_at(data, ("fields", field_name))
        if not isinstance(spec, dict) or "type" not in spec:
            return None
        return bool(spec.get("type") == "boolean")
    return False


def resolve_bool_traps(doc: YamlDocument, path: str) -> list[Diagnostic]:
    """Flag YAML 1.1 booleans (yes/no/on/off); put the text back where a string is meant."""
    out: list[Diagnostic] = []
    data = doc.data
    for trap in doc.traps:
        line, col = doc.locate(trap.path)
        meant = _boolean_meant(trap.path, data)
        word = "true" if trap.value else "false"
        if meant is True:
            message = f"'{trap.text}' is read as the boolean {word} by YAML 1.1; write {word}"
            out.append(Diagnostic(path, line, col, "warning", message))
        elif meant is None:
            message = (
                f"'{trap.text}' is read as the boolean {word} by YAML 1.1; write {word}, "
                f"or quote it ('{trap.text}') if text is meant"
            )
            out.append(Diagnostic(path, line, col, "warning", message))
        else:
            out.append(Diagnostic(path, line, col, "error", bool_trap_hint(trap.text)))
            _set(data, trap.path, trap.text)
    return out


def _validated(raw: dict[Any, Any], model: type[BaseModel]) -> tuple[dict[str, Any], bool]:
    good: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            good[str(name)] = model.model_validate(
                {} if value is None and model is StateSpec else value
            )
        except ValidationError:
            continue
    return good, len(good) == len(raw)


def _distrust_missing_sections(data: dict[str, Any], parts: WorkflowParts) -> None:
    """With an unknown top-level key (``tansitions:``), a missing section may be misspelt.

    Its names are then unknown rather than empty, so references to them are not reported
    one by one and the graph is not judged without its transitions.
    """
    if not set(data) - set(_known_keys(())):
        return
    if "transitions" not in data:
        parts.events, parts.transitions_complete = None, False
    if "states" not in data:
        parts.state_names, parts.states_complete = None, False
    for section in ("fields", "metrics"):
        if section not in data:
            setattr(parts, section[:-1] + "_names", None)
    if "roles" not in data:
        parts.roles = None


def build_parts(data: dict[str, Any]) -> WorkflowParts:
    """Validate each section item by item and keep what is sound."""
    parts = WorkflowParts()
    workflow = data.get("workflow")
    parts.workflow = workflow if isinstance(workflow, str) else None
    roles = data.get("roles") or []
    roles = [roles] if isinstance(roles, str) else roles
    parts.roles = (
        {role for role in roles if isinstance(role, str)} if isinstance(roles, list) else None
    )
    _keep_sound_declarations(data, parts)
    _keep_sound_transitions(data, parts)
    _distrust_missing_sections(data, parts)
    _keep_sound_rules_and_schedule(data, parts)
    return parts


def _keep_sound_declarations(data: dict[str, Any], parts: WorkflowParts) -> None:
    """The sound fields, states and metrics, and every name each section declares."""
    raw_fields, raw_states, raw_metrics = (
        data.get(section) or {} for section in ("fields", "states", "metrics")
    )
    if isinstance(raw_fields, dict):
        parts.fields, _ = _validated(raw_fields, FieldSpec)
        parts.field_names = {str(name) for name in raw_fields}
    else:
        parts.field_names = None
    if isinstance(raw_states, dict):
        parts.states, parts.states_complete = _validated(raw_states, StateSpec)
        parts.state_names = {str(name) for name in raw_states}
        if not all(_IDENTIFIER.fullmatch(name) for name in parts.state_names):
            parts.states_complete = False  # the graph would be judged on names to be fixed
    else:
        parts.state_names, parts.states_complete = None, False
    if isinstance(raw_metrics, dict):
        parts.metrics, _ = _validated(raw_metrics, MetricSpec)
        parts.metric_names = {str(name) for name in raw_metrics}
    else:
        parts.metric_names = None


def _keep_sound_transitions(data: dict[str, Any], parts: WorkflowParts) -> None:
    """The sound transitions, and every event named (even by a broken transition)."""
    raw_transitions = data.get("transitions") or []
    if isinstance(raw_transitions, list):
        for index, item in enumerate(raw_transitions):
            try:
                parts.transitions.append((index, TransitionSpec.model_validate(item)))
            except ValidationError:
                parts.transitions_complete = False
        parts.events = {
            item["event"]
            for item in raw_transitions
            if isinstance(item, dict) and isinstance(item.get("event"), str)
        }
    else:
        parts.events, parts.transitions_complete = None, False


def _keep_sound_rules_and_schedule(data: dict[str, Any], parts: WorkflowParts) -> None:
    """The rules that validate, and the schedule when it does."""
    raw_rules = data.get("rules") or []
    if isinstance(raw_rules, list):
        for index, item in enumerate(raw_rules):
            with contextlib.suppress(ValidationError):
                parts.rules.append((index, RuleSpec.model_validate(item)))
    raw_schedule = data.get("schedule")
    if raw_schedule is not None:
        with contextlib.suppress(ValidationError):
            parts.schedule = ScheduleSpec.model_validate(raw_schedule)
