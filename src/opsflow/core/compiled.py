"""A workflow version compiled once: transition table, parsed expressions, one state machine.

Every case of a version shares one :class:`CompiledWorkflow`; a fire only looks things up.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from transitions import Machine

from opsflow.language.durations import parse_duration
from opsflow.language.expressions import Expression, compile_expression
from opsflow.language.loader import LoadedWorkflow
from opsflow.language.models import (
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
class DeadlineSpec:
    """An SLA or timer of a state: due ``after`` its entry, or ``at`` a field's value."""

    kind: str  # sla timer
    event: str
    after: timedelta | None
    at_field: str | None


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
    machine: Machine
    veto_events: dict[str, tuple[CompiledTransition, ...]] = field(default_factory=dict)
    approval_states: frozenset[str] = frozenset()  # states with an approvals transition out
    guarded: frozenset[tuple[str, str]] = frozenset()  # (state, event)s with a `when` to check

    def candidates(self, state: str, event: str) -> tuple[CompiledTransition, ...]:
        """The transitions on ``event`` from ``state``, in file order."""
        return self.table.get((state, event), ())

    def triggers(self, state: str) -> list[str]:
        """Events with at least one transition out of ``state`` (asked of the state machine)."""
        return list(self.machine.get_triggers(state))

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


def compile_workflow(loaded: LoadedWorkflow, functions: Collection[str] = ()) -> CompiledWorkflow:
    """Compile a loaded (already validated) workflow."""
    spec = loaded.spec
    names = list(spec.fields)
    finals = frozenset(spec.final_states)
    open_states = [s for s in spec.states if s not in finals]

    machine = Machine(
        model=None,
        states=list(spec.states),
        initial=spec.initial_state,
        auto_transitions=False,
        ignore_invalid_triggers=True,
    )
    table: dict[tuple[str, str], list[CompiledTransition]] = {}
    auto: dict[str, list[CompiledTransition]] = {}
    events: list[str] = []
    for index, t in enumerate(spec.transitions):
        sources = frozenset(open_states if t.from_any else t.from_)
        approver_roles: frozenset[str] | None = None
        if t.approvals is not None:
            chosen = t.approvals.roles or (t.roles or [])
            approver_roles = frozenset(chosen) if chosen else None
        ct = CompiledTransition(
            index=index,
            spec=t,
            event=t.event,
            sources=sources,
            to=t.to,
            when=compile_expression(t.when, names=names, functions=functions) if t.when else None,
            roles=frozenset(t.roles) if t.roles else None,
            requires=tuple(t.requires),
            not_by=tuple(t.not_by),
            approvals=t.approvals,
            approver_roles=approver_roles,
            actions=_compile_actions(t.do, names, functions),
            auto=t.auto,
        )
        ordered = sorted(sources, key=list(spec.states).index)
        for source in ordered:
            if t.auto:
                auto.setdefault(source, []).append(ct)
            else:
                table.setdefault((source, t.event), []).append(ct)
                # dest=None is the machine's internal transition: no exit, no entry.
                machine.add_transition(t.event, source, t.to)
        if not t.auto and t.event not in events:
            events.append(t.event)

    deadlines: dict[str, tuple[DeadlineSpec, ...]] = {}
    for name, state in spec.states.items():
        found = []
        if state.sla is not None:
            found.append(
                DeadlineSpec("sla", state.sla.fire, parse_duration(state.sla.within), None)
            )
        if state.timer is not None:
            after = parse_duration(state.timer.after) if state.timer.after else None
            found.append(DeadlineSpec("timer", state.timer.fire, after, state.timer.at))
        if found:
            deadlines[name] = tuple(found)

    veto: dict[str, list[CompiledTransition]] = {}
    for (source, _event), cands in table.items():
        for ct in cands:
            if ct.approvals is not None and ct.approvals.veto:
                veto.setdefault(source, []).append(ct)

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
        table={k: tuple(v) for k, v in table.items()},
        auto={k: tuple(v) for k, v in auto.items()},
        events=tuple(events),
        all_events=frozenset(t.event for t in spec.transitions),
        on_enter={
            n: _compile_actions(s.on_enter, names, functions) for n, s in spec.states.items()
        },
        on_exit={n: _compile_actions(s.on_exit, names, functions) for n, s in spec.states.items()},
        deadlines=deadlines,
        rules=tuple(
            CompiledRule(
                name=r.name,
                when=compile_expression(r.when, names=names, functions=functions),
                actions=_compile_actions(r.do, names, functions),
                once=r.once,
            )
            for r in spec.rules
        ),
        metrics=dict(spec.metrics),
        machine=machine,
        veto_events={k: tuple(v) for k, v in veto.items()},
        approval_states=frozenset(
            source for (source, _e), cands in table.items() for ct in cands if ct.approvals
        ),
        guarded=frozenset(
            key for key, cands in table.items() if any(ct.when is not None for ct in cands)
        ),
    )
