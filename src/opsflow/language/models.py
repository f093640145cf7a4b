"""Pydantic models of the workflow language (SPEC §2): the shape of one workflow file.

These models check structure only (keys, types, identifier syntax). Cross-references,
graph checks and expressions are checked by :mod:`opsflow.language.checks`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from opsflow.language.text import LocalizedText

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]

FieldType = Literal[
    "string", "text", "integer", "number", "boolean", "date", "datetime", "enum", "list", "money"
]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldSpec(_Model):
    """One typed field of a case's data (SPEC §2.1)."""

    type: FieldType
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(default=None, ge=0, strict=True)
    pattern: str | None = None
    values: list[str] | None = None
    description: LocalizedText | None = None
    title: LocalizedText | None = None
    index: bool = False  # a database index for search (SPEC §7.4), made at registration


class NotifyAction(_Model):
    channel: Identifier
    to: str
    message: str
    subject: str | None = None


class Action(_Model):
    """One action: exactly one of ``notify``, ``set``, ``compute``, ``fire`` (SPEC §2.4).

    ``set`` maps a field to an expression (a string) or to a literal YAML value.
    """

    notify: NotifyAction | None = None
    set: dict[Identifier, Any] | None = None
    compute: list[Identifier] | None = None
    fire: Identifier | None = None

    @field_validator("compute", mode="before")
    @classmethod
    def _one_metric_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        given = [k for k in ("notify", "set", "compute", "fire") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "an action has exactly one of notify, set, compute, fire"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        for k in ("notify", "set", "compute", "fire"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated action has a kind")


BY = "by"  # the key of ``within: {by: FIELD, VALUE: DURATION, ..., else: DURATION}``
ELSE = "else"
_WITHIN_EXAMPLE = "{by: severity, sev1: 30m, sev2: 4h, else: 2d}"


def _check_within(value: Any) -> str | dict[str, str]:
    """A duration, or ``{by: FIELD, VALUE: DURATION, ..., else: DURATION}``; the durations
    themselves and the field are checked with the rest of the workflow."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    # YAML reads an enum value such as 1 or yes as a number or a boolean: keys are text.
    durations = {str(k).lower() if isinstance(k, bool) else str(k): v for k, v in value.items()}
    field_name = durations.pop(BY, None)
    if field_name is None:
        raise ValueError(f"a 'within' that depends on the data names its field: {_WITHIN_EXAMPLE}")
    if not isinstance(field_name, str) or not re.fullmatch(IDENTIFIER_PATTERN, field_name):
        raise ValueError(f"'by' names a field, like severity, not {field_name!r}")
    if not durations:
        raise ValueError(f"'by: {field_name}' gives no duration: {_WITHIN_EXAMPLE}")
    for key, text in durations.items():
        if not isinstance(text, str):
            raise ValueError(f"the duration for '{key}' is text like 4h, not {text!r}")
    return {BY: field_name, **durations}


_WITHIN_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "minLength": 1, "description": "a duration: 30m, 4h, 2d, P2DT4H"},
        {
            "type": "object",
            "description": f"a duration per value of an enum field: {_WITHIN_EXAMPLE}",
            "required": [BY],
            "properties": {BY: {"type": "string", "pattern": IDENTIFIER_PATTERN}},
            "additionalProperties": {"type": "string", "minLength": 1},
            "minProperties": 2,
        },
    ]
}

Within = Annotated[
    str | dict[str, str], PlainValidator(_check_within), WithJsonSchema(_WITHIN_SCHEMA)
]


class SlaSpec(_Model):
    """``sla: {within: DURATION, fire: EVENT, repeat?: DURATION}``, counted from entering
    the state; ``within`` may depend on an enum field: ``{by: severity, sev1: 30m, else: 2d}``."""

    within: Within
    fire: Identifier
    # A calendar of opsflow.yaml to count working time on; "none": the wall clock.
    calendar: Identifier | None = None
    repeat: str | None = None  # fire again every DURATION while the visit lasts

    @property
    def by(self) -> str | None:
        """The field ``within`` depends on, if it does."""
        return self.within.get(BY) if isinstance(self.within, dict) else None

    def durations(self) -> dict[str, str]:
        """``within``'s durations by the value they apply to (``else`` included); a plain
        duration is the ``else`` of every value."""
        if isinstance(self.within, dict):
            return {k: v for k, v in self.within.items() if k != BY}
        return {ELSE: self.within}


class TimerSpec(_Model):
    """``timer: {after: DURATION | at: FIELD, fire: EVENT, repeat?: DURATION}``."""

    after: str | None = None
    at: Identifier | None = None
    fire: Identifier
    calendar: Identifier | None = None  # as SlaSpec.calendar (an ``at:`` timer is not shifted)
    repeat: str | None = None  # as SlaSpec.repeat

    @model_validator(mode="after")
    def _after_or_at(self) -> TimerSpec:
        if (self.after is None) == (self.at is None):
            raise ValueError("a timer has exactly one of 'after' (a duration) or 'at' (a field)")
        return self


AssignPolicy = Literal["round_robin", "least_open"]


class AssignSpec(_Model):
    """``assign:`` of a state: who gets the case on entry (SPEC §2.10).

    Either ``role`` (with a ``policy``: ``round_robin``, the default, or ``least_open``)
    or ``field`` (the team member a field names), never both.
    """

    role: Identifier | None = None
    policy: AssignPolicy | None = None
    field: Identifier | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AssignSpec:
        if (self.role is None) == (self.field is None):
            raise ValueError("give exactly one of 'role' (with a policy) or 'field'")
        if self.field is not None and self.policy is not None:
            raise ValueError("'policy' goes with 'role'; with 'field' the field names the person")
        return self

    @property
    def rotation(self) -> AssignPolicy:
        """The policy among a role's holders (``round_robin`` when none is given)."""
        return self.policy or "round_robin"


class StateSpec(_Model):
    """One state (SPEC §2.2)."""

    initial: bool = False
    final: bool = False
    title: LocalizedText | None = None
    description: LocalizedText | None = None
    on_enter: list[Action] = []
    on_exit: list[Action] = []
    sla: SlaSpec | None = None
    timer: TimerSpec | None = None
    assign: AssignSpec | None = None


class ApprovalsSpec(_Model):
    """``approvals: {required: N, roles: [...], veto: bool}`` (SPEC §2.3)."""

    required: int = Field(ge=1, le=1000, strict=True)
    roles: list[Identifier] = []
    veto: bool = False


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class TransitionSpec(_Model):
    """One transition (SPEC §2.3).

    ``from`` is kept as a list; ``["*"]`` means any non-final state. Without ``to`` the
    transition is *internal*: it runs its ``do`` and the case stays in the same visit.
    """

    event: Identifier
    from_: list[str] = Field(alias="from")
    to: Identifier | None = None
    title: LocalizedText | None = None
    description: LocalizedText | None = None
    when: str | None = None
    roles: list[Identifier] | None = None
    requires: list[Identifier] = []
    not_by: list[Identifier] = []
    approvals: ApprovalsSpec | None = None
    do: list[Action] = []
    auto: bool = False

    _listify = field_validator("from_", "roles", "requires", "not_by", mode="before")(
        classmethod(lambda cls, v: _as_list(v))
    )

    @property
    def from_any(self) -> bool:
        return self.from_ == ["*"]

    @property
    def internal(self) -> bool:
        """No ``to``: the transition stays in its state (no on_exit/on_enter, visit kept)."""
        return self.to is None


class MetricSpec(_Model):
    """``metrics: {name: {calculator, params, description?}}`` (SPEC §2.5)."""

    calculator: str
    params: dict[str, Any] = {}
    description: LocalizedText | None = None


class RuleSpec(_Model):
    """``rules: [{name, when, do, once?}]`` — edge-triggered (SPEC §2.7)."""

    name: Identifier
    when: str
    do: list[Action]
    once: bool = False
    description: LocalizedText | None = None


class ScheduleSpec(_Model):
    """``schedule: {cron, timezone, data}`` (SPEC §2.8)."""

    cron: str
    timezone: str = "UTC"
    data: dict[Identifier, Any] = {}


class WorkflowSpec(_Model):
    """A whole workflow file."""

    workflow: Identifier
    version: int = Field(ge=1, le=2_147_483_647, strict=True)  # fits every INTEGER column
    title: LocalizedText | None = None
    description: LocalizedText | None = None
    roles: list[Identifier] = []
    # Who may read its cases beyond admins and the people who acted on one (None: everyone).
    readers: list[Identifier] | None = None
    fields: dict[Identifier, FieldSpec] = {}
    states: dict[Identifier, StateSpec]
    transitions: list[TransitionSpec] = []
    metrics: dict[Identifier, MetricSpec] = {}
    rules: list[RuleSpec] = []
    schedule: ScheduleSpec | None = None
    # The calendar every sla/timer of the workflow counts on (one may say calendar: none).
    calendar: Identifier | None = None

    @field_validator("roles", "transitions", "rules", mode="before")
    @classmethod
    def _empty_list_section(cls, value: Any) -> Any:
        # `rules:` with nothing under it (YAML null) is an empty section, not a type error.
        return [] if value is None else value

    @field_validator("fields", "metrics", mode="before")
    @classmethod
    def _empty_mapping_section(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("states", mode="before")
    @classmethod
    def _empty_states(cls, value: Any) -> Any:
        # `archived:` with nothing under it (YAML null) is a state with no options.
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @property
    def initial_state(self) -> str:
        return next(name for name, s in self.states.items() if s.initial)

    @property
    def final_states(self) -> set[str]:
        return {name for name, s in self.states.items() if s.final}
