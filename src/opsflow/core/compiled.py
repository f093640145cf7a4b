"""A workflow version compiled once: transition table, parsed expressions, one state machine.

Every case of a version shares one :class:`CompiledWorkflow`; a fire only looks things up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from opsflow.core.calendar import WorkingDuration, working_duration
from opsflow.core.machine import CaseMachine
from opsflow.language.checks_calendar import deadline_calendar
from opsflow.language.durations import parse_duration
from opsflow.language.expressions import Expression, compile_expression
from opsflow.language.loader import LoadedWorkflow
from opsflow.language.models import (
    ELSE,
    Action,
    ApprovalsSpec,
    FieldSpec,
    MetricSpec,
    TransitionSpec,
    WorkflowSpec,
)


@dataclass(frozen=True)
class CompiledAction:
    """An action with its expressions parsed (``set``) and its kind resolved."""

    kind: str  # notify set compute fire
    spec: Action
    set_values: tuple[tuple[str, Expression | None, Any], ...] = ()  # (field, expression, literal)

    def described(self) -> dict[str, Any]:
        """The action as written (``model_dump(exclude_none=True)``): shared, copy to change."""
        dumped = self.__dict__.get("_dumped")
        if dumped is None:
            dumped = self.spec.model_dump(exclude_none=True)
            object.__setattr__(self, "_dumped", dumped)  # computed once per compiled version
        return dumped


@dataclass(frozen=True)
class CompiledTransition:
    """One transition of the file, with its position and parsed guard."""

    index: int  # position in the file's transitions list
    spec: TransitionSpec
    event: str
    sources: frozenset[str]
    to: str | None  # None: internal, the case stays in its state and visit
    when: Expression | None
    roles: frozenset[str] | None
    requires: tuple[str, ...]
    not_by: tuple[str, ...]
    approvals: ApprovalsSpec | None
    approver_roles: frozenset[str] | None  # who may approve (None: anyone)
    actions: tuple[CompiledAction, ...]
    auto: bool

    @property
    def internal(self) -> bool:
        return self.to is None

    def describe(self) -> str:
        return f"{self.event} (internal)" if self.to is None else f"{self.event} → {self.to}"


@dataclass(frozen=True)
class Span:
    """A duration as written, as wall-clock time and, to count on a calendar, as working
    days and time (parsed once here, not at every arming)."""

    text: str
    delta: timedelta
    working: WorkingDuration | None = None

    @classmethod
    def of(cls, text: str, *, on_calendar: bool = False) -> Span:
        return cls(text, parse_duration(text), working_duration(text) if on_calendar else None)


@dataclass(frozen=True)
class DeadlineSpec:
    """An SLA or timer of a state: due ``after`` its entry, or ``at`` a field's value.

    An SLA's ``within`` may depend on an enum field (``by``): ``spans`` holds a duration
    per value and ``else``. ``repeat`` fires the event again every span while the visit
    lasts.
    """

    kind: str  # sla timer
    event: str
    after: Span | None  # counted from the state's entry (None: ``at:`` or ``by``)
    at_field: str | None
    calendar: str | None = None  # the business calendar the spans count on (None: wall clock)
    by: str | None = None  # the enum field that chooses the duration
    spans: Mapping[str, Span] = field(default_factory=dict)  # by value, and ``else``
    repeat: Span | None = None

    def counted(self, data: Mapping[str, Any]) -> Span | None:
        """The span from the state's entry to the first firing, for a case with ``data``:
        None for an ``at:`` timer, and for a ``by`` whose value no span covers."""
        if self.by is not None:
            value = data.get(self.by)
            chosen = self.spans.get(str(value)) if value not in (None, "") else None
            return chosen or self.spans.get(ELSE)
        return self.after

    @property
    def follows(self) -> str | None:
        """The field whose change moves this deadline (``at:`` or ``by``), if any."""
        return self.at_field or self.by


@dataclass(frozen=True)
class CompiledRule:
    name: str
    when: Expression
    actions: tuple[CompiledAction, ...]
    once: bool


@dataclass
class CompiledWorkflow:
    """Everything a fire needs about one workflow version, computed once."""

    id: str
    version: int
    spec: WorkflowSpec
    text: str
    hash: str
    path: str
    fields: dict[str, FieldSpec]
    initial: str
    finals: frozenset[str]
    table: dict[tuple[str, str], tuple[CompiledTransition, ...]]
    auto: dict[str, tuple[CompiledTransition, ...]]
    events: tuple[str, ...]  # events a person can fire, in file order
    all_events: frozenset[str]
    on_enter: dict[str, tuple[CompiledAction, ...]]
    on_exit: dict[str, tuple[CompiledAction, ...]]
    deadlines: dict[str, tuple[DeadlineSpec, ...]]
    rules: tuple[CompiledRule, ...]
    metrics: dict[str, MetricSpec]
    machine: CaseMachine  # executes every transition a case takes
    veto_events: dict[str, tuple[CompiledTransition, ...]] = field(default_factory=dict)
    approval_states: frozenset[str] = frozenset()  # states with an approvals transition out
    guarded: frozenset[tuple[str, str]] = frozenset()  # (state, event)s with a `when` to check

    @property
    def readers(self) -> frozenset[str] | None:
        """The roles ``readers:`` lets read this version's cases (None: everyone); which
        version's readers count is decided in ``opsflow.engine.access``."""
        readers = self.spec.readers
        return None if readers is None else frozenset(readers)

    def candidates(self, state: str, event: str) -> tuple[CompiledTransition, ...]:
        """The transitions on ``event`` from ``state``, in file order."""
        return self.table.get((state, event), ())

    def triggers(self, state: str) -> list[str]:
        """Events a person can fire out of ``state`` (asked of the state machine)."""
        return [e for e in self.machine.get_triggers(state) if (state, e) in self.table]

    def sources_of(self, event: str) -> list[str]:
        return sorted({s for (s, e) in self.table if e == event})


def _compile_actions(
    actions: Collection[Action], names: Collection[str], functions: Collection[str]
) -> tuple[CompiledAction, ...]:
    compiled = []
    for action in actions:
        values: tuple[tuple[str, Expression | None, Any], ...] = ()
        if action.set is not None:
            values = tuple(
                (name, compile_expression(v, names=names, functions=functions), None)
                if isinstance(v, str)
                else (name, None, v)
                for name, v in action.set.items()
            )
        compiled.append(CompiledAction(kind=action.kind, spec=action, set_values=values))
    return tuple(compiled)


def _compile_transition(
    index: int,
    spec: TransitionSpec,
    open_states: Collection[str],
    names: Collection[str],
    functions: Collection[str],
) -> CompiledTransition:
    approver_roles: frozenset[str] | None = None
    if spec.approvals is not None:
        chosen = spec.approvals.roles or (spec.roles or [])
        approver_roles = frozenset(chosen) if chosen else None
    return CompiledTransition(
        index=index,
        spec=spec,
        event=spec.event,
        sources=frozenset(open_states if spec.from_any else spec.from_),
        to=spec.to,
        when=compile_expression(spec.when, names=names, functions=functions) if spec.when else None,
        roles=frozenset(spec.roles) if spec.roles else None,
        requires=tuple(spec.requires),
        not_by=tuple(spec.not_by),
        approvals=spec.approvals,
        approver_roles=approver_roles,
        actions=_compile_actions(spec.do, names, functions),
        auto=spec.auto,
    )


@dataclass
class _Tables:
    """The transitions by (source, event) and the automatic ones by source, in file order."""

    table: dict[tuple[str, str], tuple[CompiledTransition, ...]]
    auto: dict[str, tuple[CompiledTransition, ...]]
    events: tuple[str, ...]  # events a person can fire, in file order

    @classmethod
    def of(cls, transitions: list[CompiledTransition], states: list[str]) -> _Tables:
        table: dict[tuple[str, str], list[CompiledTransition]] = {}
        auto: dict[str, list[CompiledTransition]] = {}
        events: list[str] = []
        position = {state: index for index, state in enumerate(states)}
        for transition in transitions:
            for source in sorted(transition.sources, key=position.__getitem__):
                if transition.auto:
                    auto.setdefault(source, []).append(transition)
                else:
                    table.setdefault((source, transition.event), []).append(transition)
            if not transition.auto and transition.event not in events:
                events.append(transition.event)
        return cls(
            table={key: tuple(found) for key, found in table.items()},
            auto={key: tuple(found) for key, found in auto.items()},
            events=tuple(events),
        )

    def veto_events(self) -> dict[str, tuple[CompiledTransition, ...]]:
        """By source: the transitions whose approvals vote carries a veto."""
        veto: dict[str, list[CompiledTransition]] = {}
        for (source, _event), candidates in self.table.items():
            for transition in candidates:
                if transition.approvals is not None and transition.approvals.veto:
                    veto.setdefault(source, []).append(transition)
        return {source: tuple(found) for source, found in veto.items()}

    def approval_states(self) -> frozenset[str]:
        return frozenset(
            source
            for (source, _event), candidates in self.table.items()
            if any(transition.approvals for transition in candidates)
        )

    def guarded(self) -> frozenset[tuple[str, str]]:
        return frozenset(
            key
            for key, candidates in self.table.items()
            if any(transition.when is not None for transition in candidates)
        )


def _compile_deadlines(spec: WorkflowSpec) -> dict[str, tuple[DeadlineSpec, ...]]:
    deadlines: dict[str, tuple[DeadlineSpec, ...]] = {}
    for name, state in spec.states.items():
        found = []
        if state.sla is not None:
            sla = state.sla
            calendar = deadline_calendar(spec.calendar, sla.calendar)
            counts = calendar is not None
            repeat = Span.of(sla.repeat, on_calendar=counts) if sla.repeat else None
            if isinstance(sla.within, str):
                within = Span.of(sla.within, on_calendar=counts)
                found.append(DeadlineSpec("sla", sla.fire, within, None, calendar, repeat=repeat))
            else:
                spans = {
                    key: Span.of(text, on_calendar=counts) for key, text in sla.durations().items()
                }
                found.append(
                    DeadlineSpec("sla", sla.fire, None, None, calendar, sla.by, spans, repeat)
                )
        if state.timer is not None:
            timer = state.timer
            calendar = deadline_calendar(spec.calendar, timer.calendar) if timer.after else None
            counts = calendar is not None
            after = Span.of(timer.after, on_calendar=counts) if timer.after else None
            repeat = Span.of(timer.repeat, on_calendar=counts) if timer.repeat else None
            found.append(
                DeadlineSpec("timer", timer.fire, after, timer.at, calendar, repeat=repeat)
            )
        if found:
            deadlines[name] = tuple(found)
    return deadlines


def _compile_rules(
    spec: WorkflowSpec, names: Collection[str], functions: Collection[str]
) -> tuple[CompiledRule, ...]:
    return tuple(
        CompiledRule(
            name=rule.name,
            when=compile_expression(rule.when, names=names, functions=functions),
            actions=_compile_actions(rule.do, names, functions),
            once=rule.once,
        )
        for rule in spec.rules
    )


def compile_workflow(loaded: LoadedWorkflow, functions: Collection[str] = ()) -> CompiledWorkflow:
    """Compile a loaded (already validated) workflow."""
    spec = loaded.spec
    names = list(spec.fields)
    states = list(spec.states)
    finals = frozenset(spec.final_states)
    open_states = [s for s in states if s not in finals]
    transitions = [
        _compile_transition(index, transition, open_states, names, functions)
        for index, transition in enumerate(spec.transitions)
    ]
    tables = _Tables.of(transitions, states)
    on_exit = {n: _compile_actions(s.on_exit, names, functions) for n, s in spec.states.items()}
    return CompiledWorkflow(
        id=spec.workflow,
        version=spec.version,
        spec=spec,
        text=loaded.text,
        hash=loaded.hash,
        path=loaded.path,
        fields=dict(spec.fields),
        initial=spec.initial_state,
        finals=finals,
        table=tables.table,
        auto=tables.auto,
        events=tables.events,
        all_events=frozenset(transition.event for transition in transitions),
        on_enter={
            n: _compile_actions(s.on_enter, names, functions) for n, s in spec.states.items()
        },
        on_exit=on_exit,
        deadlines=_compile_deadlines(spec),
        rules=_compile_rules(spec, names, functions),
        metrics=dict(spec.metrics),
        machine=CaseMachine(
            states,
            spec.initial_state,
            transitions,
            exit_actions={n for n, a in on_exit.items() if a},
        ),
        veto_events=tables.veto_events(),
        approval_states=tables.approval_states(),
        guarded=tables.guarded(),
    )
