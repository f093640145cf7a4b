"""Cross-reference checks of a workflow (SPEC §2.9): names, fields, actions, expressions.

Every reference to a state, role, field, metric, event or channel is checked against what
the file (or the project configuration, through :class:`LoadContext`) declares, with a
"did you mean" among the known names. Expressions are compiled with the declared fields
and registered functions; durations, cron and timezones are parsed. The graph checks live
in :mod:`opsflow.language.checks_graph`. Checks never raise: each problem is a diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from opsflow.errors import FieldError, TemplateProblem
from opsflow.language.checks_assign import check_assignments
from opsflow.language.checks_calendar import check_calendars
from opsflow.language.checks_deadlines import check_deadline_durations
from opsflow.language.checks_params import check_metric_params
from opsflow.language.checks_roles import (
    SYSTEM_ROLE,
    check_deadline_roles,
    check_readers,
    check_recipients,
    check_roles,
)
from opsflow.language.cron import check_cron, check_timezone
from opsflow.language.diagnostics import Diagnostic, Severity
from opsflow.language.expression_types import type_errors
from opsflow.language.expressions import ExpressionError, compile_expression
from opsflow.language.fields import (
    LENGTH_TYPES,
    MAX_INDEXED_LENGTH,
    NUMERIC_TYPES,
    coerce_value,
)
from opsflow.language.models import Action, FieldSpec, TransitionSpec
from opsflow.language.structure import Describer, WorkflowParts, value_at
from opsflow.language.template_names import (
    CASE_VARIABLES,
    name_offset,
    unknown_names,
)
from opsflow.language.yamlio import NodeInfo, YamlDocument, YamlPath
from opsflow.suggest import did_you_mean

if TYPE_CHECKING:
    from opsflow.language.context import LoadContext


class Checker:
    """Collects the diagnostics of one workflow document."""

    def __init__(
        self, parts: WorkflowParts, doc: YamlDocument, path: str, ctx: LoadContext
    ) -> None:
        self.parts = parts
        self.doc = doc
        self.path = path
        self.ctx = ctx
        self.describer = Describer(doc.data if isinstance(doc.data, dict) else {})
        self.diagnostics: list[Diagnostic] = []
        self.unconfigured: set[str] = set()

    def report(
        self, where: YamlPath, message: str, severity: Severity = "error", *, key: bool = False
    ) -> None:
        """Add a diagnostic at the mark of ``where`` (its key with ``key=True``)."""
        line, col = self.doc.locate(where, key=key)
        self.diagnostics.append(Diagnostic(self.path, line, col, severity, message))

    def names(self, base: YamlPath, values: Sequence[str]) -> list[tuple[YamlPath, str]]:
        """Each name of ``values`` with its own path (a scalar or a list in the file)."""
        raw = value_at(self.doc.data, base)
        many = isinstance(raw, list)
        return [((*base, i) if many else base, v) for i, v in enumerate(values)]

    def reference(
        self, where: YamlPath, name: str, known: Collection[str] | None, message: str
    ) -> bool:
        """Report ``message`` + a suggestion unless ``name`` is known; True when it is."""
        if known is None or name in known:
            return True
        self.report(where, message + did_you_mean(name, known))
        return False

    def run(self) -> list[Diagnostic]:
        """Run every reference check."""
        self.check_fields()
        check_roles(self)
        check_readers(self)
        self.check_states()
        check_assignments(self)
        self.check_transitions()
        check_deadline_roles(self)
        check_calendars(self)
        self.check_metrics()
        self.check_rules()
        self.check_schedule()
        return self.diagnostics

    # fields -------------------------------------------------------------------------

    def check_fields(self) -> None:
        """Options that fit the type, sound bounds, patterns and defaults."""
        for name, spec in self.parts.fields.items():
            base: YamlPath = ("fields", name)
            kind = spec.type
            if kind == "enum" and not spec.values:
                self.report((*base, "type"), f"field '{name}' is an enum but lists no values")
            if spec.values is not None and kind != "enum":
                self.report(
                    (*base, "values"), f"field '{name}' has values but its type is {kind}, not enum"
                )
            for index, value in enumerate(spec.values or []):
                if (spec.values or []).index(value) != index:
                    self.report(
                        (*base, "values", index), f"field '{name}' lists the value '{value}' twice"
                    )
            for option in ("min", "max"):
                if getattr(spec, option) is not None and kind not in NUMERIC_TYPES:
                    self.report(
                        (*base, option),
                        f"'{option}' of field '{name}' applies to "
                        f"integer, number and money fields, not {kind}",
                    )
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                self.report(
                    (*base, "min"),
                    f"field '{name}' has min {_num(spec.min)} greater than max {_num(spec.max)}",
                )
            if spec.max_length is not None and kind not in LENGTH_TYPES:
                self.report(
                    (*base, "max_length"),
                    f"'max_length' of field '{name}' applies "
                    f"to string, text and list fields, not {kind}",
                )
            if spec.pattern is not None:
                self.check_pattern(name, spec)
            if spec.index:
                self.check_index(name, spec)
            if spec.default is not None:
                self.check_value(
                    (*base, "default"), name, spec, spec.default, f"the default of field '{name}'"
                )
                if spec.required:
                    self.report(
                        (*base, "required"),
                        f"field '{name}' is required and has a default, so it is never missing",
                        "warning",
                    )

    def check_index(self, name: str, spec: FieldSpec) -> None:
        """``index: true`` needs values a database index can hold (short, single values)."""
        where: YamlPath = ("fields", name, "index")
        if spec.type in ("text", "list"):
            self.report(where, f"'index' of field '{name}' does not apply to {spec.type} fields")
        elif spec.type == "string" and (
            spec.max_length is None or spec.max_length > MAX_INDEXED_LENGTH
        ):
            self.report(
                where,
                f"an indexed string field needs 'max_length' of at most {MAX_INDEXED_LENGTH} "
                f"(field '{name}'): a longer value cannot go in a database index",
            )

    def check_pattern(self, name: str, spec: FieldSpec) -> None:
        """A pattern belongs to a string field and must compile."""
        where: YamlPath = ("fields", name, "pattern")
        if spec.type != "string":
            self.report(
                where, f"'pattern' of field '{name}' applies to string fields, not {spec.type}"
            )
        try:
            re.compile(spec.pattern or "")
        except re.error as exc:
            self.report(where, f"field '{name}' has an invalid pattern: {exc}")

    def check_value(
        self, where: YamlPath, name: str, spec: FieldSpec, value: Any, what: str
    ) -> None:
        """A literal value must be one the field accepts."""
        if spec.type == "enum" and not spec.values:
            return  # already reported: an enum without values refuses everything
        try:
            coerce_value(name, spec, value)
        except FieldError as exc:
            shown = show_value(value)
            if shown in exc.reason:
                self.report(where, f"{what} is refused: {exc.reason}")
            else:
                self.report(where, f"{what} is {shown}, which is refused: {exc.reason}")

    # states -------------------------------------------------------------------------

    def check_states(self) -> None:
        """Deadlines and the actions run on entering and leaving each state."""
        for name, spec in self.parts.states.items():
            base: YamlPath = ("states", name)
            if spec.sla is not None:
                self.check_event(
                    (*base, "sla", "fire"), spec.sla.fire, f"sla of state '{name}' fires"
                )
            if spec.timer is not None:
                timer = spec.timer
                if timer.at is not None:
                    self.check_timer_field(name, timer.at)
                self.check_event(
                    (*base, "timer", "fire"), timer.fire, f"timer of state '{name}' fires"
                )
            for hook in ("on_enter", "on_exit"):
                self.check_actions((*base, hook), getattr(spec, hook), f"{hook} of state '{name}'")
        check_deadline_durations(self)

    def check_event(self, where: YamlPath, event: str, what: str) -> bool:
        """An event fired by a deadline or an action must be one some transition handles."""
        return self.reference(where, event, self.parts.events, f"{what} unknown event '{event}'")

    def check_timer_field(self, state: str, field_name: str) -> None:
        """A timer's ``at`` names a date or datetime field."""
        where: YamlPath = ("states", state, "timer", "at")
        if not self.reference(
            where,
            field_name,
            self.parts.field_names,
            f"timer of state '{state}' reads unknown field '{field_name}'",
        ):
            return
        spec = self.parts.fields.get(field_name)
        if spec is not None and spec.type not in ("date", "datetime"):
            self.report(
                where,
                f"timer of state '{state}' reads field '{field_name}', which "
                f"is {spec.type}; it must be a date or datetime field",
            )

    # transitions --------------------------------------------------------------------

    def check_transitions(self) -> None:
        """States, roles, fields and events named by transitions; guards; approvals."""
        for index, spec in self.parts.transitions:
            base: YamlPath = ("transitions", index)
            self.check_transition_states(base, spec)
            self.check_transition_names(base, spec)
            self.check_transition_approvals(base, spec)
            if spec.when is not None:
                self.check_expression(
                    (*base, "when"), spec.when, f"'when' of transition '{spec.event}'"
                )
            self.check_actions((*base, "do"), spec.do, f"transition '{spec.event}'")

    def check_transition_states(self, base: YamlPath, spec: TransitionSpec) -> None:
        """The states a transition leaves and enters; an internal one takes no approvals."""
        parts, event = self.parts, spec.event
        if not spec.from_any:
            for where, state in self.names((*base, "from"), spec.from_):
                self.reference(
                    where,
                    state,
                    parts.state_names,
                    f"transition '{event}' starts from unknown state '{state}'",
                )
        if spec.to is not None:
            self.reference(
                (*base, "to"),
                spec.to,
                parts.state_names,
                f"transition '{event}' goes to unknown state '{spec.to}'",
            )
        elif spec.approvals is not None:
            self.report(
                (*base, "approvals"),
                f"internal transition '{event}' takes approvals: approvals are kept "
                "until the state is left, and an internal transition never leaves it; "
                "give it a 'to'",
            )

    def check_transition_names(self, base: YamlPath, spec: TransitionSpec) -> None:
        """The roles that may fire a transition, the fields it requires, its not_by events."""
        parts, event = self.parts, spec.event
        may_act = None if parts.roles is None else parts.roles | {SYSTEM_ROLE}
        for where, role in self.names((*base, "roles"), spec.roles or []):
            self.reference(
                where, role, may_act, f"transition '{event}' names unknown role '{role}'"
            )
        for where, field_name in self.names((*base, "requires"), spec.requires):
            self.reference(
                where,
                field_name,
                parts.field_names,
                f"transition '{event}' requires unknown field '{field_name}'",
            )
        for where, other in self.names((*base, "not_by"), spec.not_by):
            self.reference(
                where,
                other,
                parts.events,
                f"transition '{event}' names unknown event '{other}' in not_by",
            )

    def check_transition_approvals(self, base: YamlPath, spec: TransitionSpec) -> None:
        """The roles that vote on a transition; an automatic transition takes no votes."""
        event, approvals = spec.event, spec.approvals
        if approvals is None:
            return
        for where, role in self.names((*base, "approvals", "roles"), approvals.roles):
            self.reference(
                where,
                role,
                self.parts.roles,
                f"approvals of transition '{event}' name unknown role '{role}'",
            )
        if spec.auto:
            self.report(
                (*base, "approvals"),
                f"transition '{event}' is automatic "
                "and has approvals; an automatic transition takes no votes",
            )

    # actions, expressions, templates --------------------------------------------------

    def check_actions(self, base: YamlPath, actions: Sequence[Action], what: str) -> None:
        """The fields, metrics, events and channels each action names."""
        parts = self.parts
        for index, action in enumerate(actions):
            where: YamlPath = (*base, index)
            if action.notify is not None:
                self.check_notify((*where, "notify"), action, what)
            if action.set is not None:
                for field_name, value in action.set.items():
                    self.check_set((*where, "set", field_name), field_name, value, what)
            for spot, metric in self.names((*where, "compute"), action.compute or []):
                self.reference(
                    spot, metric, parts.metric_names, f"{what} computes unknown metric '{metric}'"
                )
            if action.fire is not None:
                self.check_event((*where, "fire"), action.fire, f"{what} fires")

    def check_notify(self, where: YamlPath, action: Action, what: str) -> None:
        """A notification's channel is configured and its templates parse."""
        assert action.notify is not None
        channel = action.notify.channel
        channels = self.ctx.channels
        if channels is None:
            if channel not in self.unconfigured:  # one warning per channel, at its first use
                self.unconfigured.add(channel)
                self.report(
                    (*where, "channel"),
                    f"channel '{channel}' is not configured in opsflow.yaml",
                    "warning",
                )
        else:
            self.reference(
                (*where, "channel"),
                channel,
                channels,
                f"{what} notifies unknown channel '{channel}'",
            )
        for key in ("to", "message", "subject"):
            template = getattr(action.notify, key)
            if template is not None:
                self.check_template((*where, key), template, f"{key} of {what}")
        to = action.notify.to
        if "{{" not in to and "{%" not in to:
            check_recipients(self, (*where, "to"), to, what)

    def check_template(
        self, where: YamlPath, template: str, what: str, *, names: bool = True
    ) -> None:
        """A Jinja2 template must parse and (with ``names``) read only the case's variables."""
        known = (
            None if self.parts.field_names is None else (self.parts.field_names | CASE_VARIABLES)
        )
        try:
            unknown = unknown_names(template, known if known is not None and names else ())
        except TemplateProblem as exc:
            self.report(where, f"{what} is not a valid template: {exc.message}")
            return
        if known is None or not names:
            return
        for name in unknown:
            offset = name_offset(template, name)
            line = template.count("\n", 0, offset) + 1
            col = offset - (template.rfind("\n", 0, offset) + 1) + 1
            at = expression_position(self.doc, where, line, col)
            self.diagnostics.append(
                Diagnostic(
                    self.path,
                    *at,
                    "error",
                    f"{what} reads unknown variable '{name}'" + did_you_mean(name, known),
                )
            )

    def check_set(self, where: YamlPath, field_name: str, value: Any, what: str) -> None:
        """A ``set`` names a declared field; a string is an expression, else a literal."""
        if not self.reference(
            where, field_name, self.parts.field_names, f"{what} sets unknown field '{field_name}'"
        ):
            return
        if isinstance(value, str):
            self.check_expression(where, value, f"the value of '{field_name}' set by {what}")
            return
        spec = self.parts.fields.get(field_name)
        if spec is not None:
            self.check_value(
                where, field_name, spec, value, f"the value of '{field_name}' set by {what}"
            )

    def check_expression(self, where: YamlPath, text: str, what: str) -> None:
        """An expression must compile against the declared fields and known functions."""
        if self.parts.field_names is None:
            return
        try:
            compile_expression(
                text,
                names=self.parts.field_names,
                functions=self.ctx.functions,
                metrics=self.parts.metric_names,
            )
        except ExpressionError as exc:
            self.expression_error(where, exc, what)
            return
        states = self.parts.state_names if self.parts.states_complete else None
        for problem in type_errors(text, self.parts.fields, states):
            self.expression_error(where, problem, what)

    def expression_error(self, where: YamlPath, exc: ExpressionError, what: str) -> None:
        """Report an error of the expression at ``where`` at its place in the file."""
        line, col = expression_position(self.doc, where, exc.line, exc.col)
        self.diagnostics.append(Diagnostic(self.path, line, col, "error", f"{what}: {exc.message}"))

    # metrics, rules, schedule ---------------------------------------------------------

    def check_metrics(self) -> None:
        """Each metric's calculator is registered (when the caller knows the registry)."""
        for name, spec in self.parts.metrics.items():
            self.reference(
                ("metrics", name, "calculator"),
                spec.calculator,
                self.ctx.calculators,
                f"metric '{name}' uses unknown calculator '{spec.calculator}'",
            )
            check_metric_params(self, name, spec)

    def check_rules(self) -> None:
        """Rule names are unique; guards compile; actions name known things."""
        seen: dict[str, int] = {}
        for index, rule in self.parts.rules:
            base: YamlPath = ("rules", index)
            if rule.name in seen:
                first = self.doc.locate(("rules", seen[rule.name], "name"))[0]
                self.report(
                    (*base, "name"), f"rule '{rule.name}' is already defined at line {first}"
                )
            seen.setdefault(rule.name, index)
            self.check_expression((*base, "when"), rule.when, f"'when' of rule '{rule.name}'")
            self.check_actions((*base, "do"), rule.do, f"rule '{rule.name}'")

    def check_schedule(self) -> None:
        """Cron, timezone, and the data each scheduled case starts with."""
        schedule = self.parts.schedule
        if schedule is None:
            return
        try:
            check_cron(schedule.cron)
        except ValueError as exc:
            self.report(("schedule", "cron"), f"schedule: {exc}")
        try:
            check_timezone(schedule.timezone)
        except ValueError as exc:
            self.report(("schedule", "timezone"), f"schedule: {exc}")
        for name, value in schedule.data.items():
            where: YamlPath = ("schedule", "data", name)
            if not self.reference(
                where, name, self.parts.field_names, f"schedule data sets unknown field '{name}'"
            ):
                continue
            if isinstance(value, str) and ("{{" in value or "{%" in value):
                self.check_template(where, value, f"schedule data '{name}'", names=False)
                continue
            spec = self.parts.fields.get(name)
            if spec is not None:
                self.check_value(where, name, spec, value, f"schedule data '{name}'")


def show_value(value: Any) -> str:
    """A YAML value as a message names it: ``'fax'``, ``-5``, ``true``, ``[1, 2]``."""
    if isinstance(value, str):
        return f"'{value[:57] + '...' if len(value) > 60 else value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def expression_position(doc: YamlDocument, where: YamlPath, line: int, col: int) -> tuple[int, int]:
    """Map an expression error's (line, col) in the value to a (line, col) in the file."""
    info = doc.values.get(where)
    if info is None:
        return doc.locate(where)
    if info.style in ("|", ">"):
        return _block_position(doc.source, info, line, col)
    if info.line != info.end_line or line != 1:
        return info.line, info.col
    raw = doc.source[info.start_index : info.end_index]
    if info.style is None:
        return info.line, info.col + col - 1
    offset = _quoted_offset(raw[1:], info.style, col - 1)
    return info.line, info.col + 1 + offset


def _quoted_offset(raw: str, style: str, chars: int) -> int:
    """The offset in the quoted source ``raw`` of the ``chars``-th character of its value."""
    position = 0
    for _ in range(chars):
        if position >= len(raw):
            break
        if style == "'" and raw.startswith("''", position):
            position += 2
        elif style == '"' and raw[position] == "\\" and position + 1 < len(raw):
            width = {"x": 4, "u": 6, "U": 10}.get(raw[position + 1], 2)
            position += width
        else:
            position += 1
    return position


def _block_position(source: str, info: NodeInfo, line: int, col: int) -> tuple[int, int]:
    lines = source.splitlines()
    # Content starts on the line after the `|`/`>` indicator; skip blank lines before it.
    number = info.line + 1
    while number <= len(lines) and not lines[number - 1].strip():
        number += 1
    number += line - 1
    if info.style == ">" or number > len(lines):
        return info.line, info.col
    text = lines[number - 1]
    indent = len(text) - len(text.lstrip(" "))
    return number, indent + col
