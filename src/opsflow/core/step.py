"""One atomic step on one case: a start, fire, data change or compute, and all it sets off.

A step works on an in-memory :class:`WorkingCase` and collects the rows to write in
:class:`Writes`; the engine flushes them in the same transaction. Actions, rules,
automatic transitions and follow-up fires all run inside the step, bounded.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import Any, cast

from transitions import EventData

from opsflow.clock import iso
from opsflow.core.compiled import CompiledAction, CompiledTransition, CompiledWorkflow
from opsflow.core.decide import SYSTEM, Actor, ApprovalProgress, Decision, decide
from opsflow.core.hookviews import HookView, actor_view, transition_view
from opsflow.core.machine import Move
from opsflow.core.metrics import run_metric
from opsflow.core.results import StepOutcome
from opsflow.core.working import WorkingCase, Writes, copy_json
from opsflow.errors import Busy, FieldError, Invalid, OpsflowError, PluginRefusal, Refused
from opsflow.language.expressions import EvaluationError
from opsflow.language.fields import coerce_value
from opsflow.suggest import did_you_mean
from opsflow.templating import render_message

_NO_SCOPE: Mapping[str, Any] = MappingProxyType({})
MAX_CHAIN = 50  # automatic transitions, rule rounds and follow-up fires per step


@dataclass
class StepContext:
    """What a step needs from the engine around it."""

    now: datetime
    roles_of: Callable[[str], frozenset[str]]
    functions: Mapping[str, Callable[..., Any]]
    approvals_of: Callable[[str, int, str], set[str]]  # (case, visit, event) -> actors
    plugins: Any  # opsflow.plugins.Plugins
    sources: Mapping[str, Mapping[str, Any]]
    base_dir: Any
    before_hooks: bool = True
    # Errors that end the whole step (database trouble: the transaction is retried or
    # reported), never kept as a failed piece of automation.
    fatal: tuple[type[BaseException], ...] = ()


@dataclass
class _Savepoint:
    """What a piece of automation may change, to put back when it fails."""

    case: dict[str, Any]
    data: dict[str, Any]
    metrics: dict[str, Any]
    rules: Any
    counts: tuple[int, ...]  # history, outbox, approvals, incidents, transitions, notices
    left: set[str]
    entered: bool
    changed: set[str]
    followups: list[tuple[str, Actor]]
    pending: dict[str, set[str]]
    failed: dict[str, str]
    done: set[str]
    computed: set[str]


@dataclass
class FireOutcome:
    outcome: StepOutcome
    transition: CompiledTransition
    approvals: tuple[int, int] | None = None


@dataclass
class Step:
    """The work of one transaction on one case."""

    wf: CompiledWorkflow
    case: WorkingCase
    ctx: StepContext
    writes: Writes = field(default_factory=Writes)
    followups: deque[tuple[str, Actor]] = field(default_factory=deque)
    notices: int = 0
    transitions_taken: list[tuple[CompiledTransition, Actor, dict[str, Any]]] = field(
        default_factory=list
    )
    _first_seq: int = 0
    _pending_approvals: dict[str, set[str]] = field(default_factory=dict)
    # Expression scopes per actor, valid until the case's data, metrics or state change
    # (apply_data, compute and take clear them): a fire decides and evaluates many times.
    _scopes: dict[str, dict[str, Any]] = field(default_factory=dict)  # by actor name
    _actors: dict[str, Actor] = field(default_factory=dict)
    # Automation that failed in this step (by target, e.g. "compute:ctr"): not tried again
    # in this step; the failure is written as an incident with the step.
    failed: dict[str, str] = field(default_factory=dict)

    # -- bookkeeping -----------------------------------------------------------------

    def actor(self, name: str) -> Actor:
        found = self._actors.get(name)
        if found is None:
            roles = frozenset() if name == SYSTEM else self.ctx.roles_of(name)
            found = self._actors[name] = Actor(name, roles)
        return found

    def _reserve_seq(self) -> int:
        self.case.seq += 1
        if not self._first_seq:
            self._first_seq = self.case.seq
        return self.case.seq

    def _entry(
        self,
        seq: int,
        kind: str,
        actor: str,
        *,
        event: str | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        changes: dict[str, Any] | None = None,
        comment: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        entry = {
            "seq": seq,
            "at": self.ctx.now,
            "actor": actor,
            "kind": kind,
            "event": event,
            "from_state": from_state,
            "to_state": to_state,
            "data_changes": changes or {},
            "comment": comment,
            "detail": detail or {},
        }
        self.writes.history.append(entry)
        return entry

    def _scope(self, actor: Actor) -> dict[str, Any]:
        # Keyed by name: an actor's roles are fixed for the step (see ``actor``).
        scope = self._scopes.get(actor.name)
        if scope is None:
            scope = self.case.scope(self.wf, actor.to_scope(), self.ctx.now)
            self._scopes[actor.name] = scope
        return scope

    def _changed(self) -> None:
        """The case's data, metrics or state changed: scopes must be built again."""
        self._scopes.clear()

    # -- data ----------------------------------------------------------------------

    def apply_data(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and apply field values; all bad values are reported, none applied on error."""
        if not data:
            return {}
        problems: list[str] = []
        coerced: dict[str, Any] = {}
        for name, value in data.items():
            spec = self.wf.fields.get(name)
            if spec is None:
                problems.append(_unknown_field(name, self.wf.fields))
                continue
            try:
                coerced[name] = coerce_value(name, spec, value)
            except FieldError as exc:
                problems.append(str(exc))
        if problems:
            raise Invalid(problems[0] if len(problems) == 1 else "invalid data", problems)
        changes: dict[str, Any] = {}
        for name, value in coerced.items():
            old = self.case.data.get(name)
            if old != value:
                changes[name] = {"from": old, "to": value}
                if value is None:
                    self.case.data.pop(name, None)
                else:
                    self.case.data[name] = value
                self.writes.changed_fields.add(name)
        if changes:
            self._changed()
        return changes

    # -- start ---------------------------------------------------------------------

    def start(self, data: Mapping[str, Any], actor: Actor) -> None:
        """Apply defaults and the starting data, enter the initial state, settle."""
        initial: dict[str, Any] = {
            name: spec.default for name, spec in self.wf.fields.items() if spec.default is not None
        }
        initial.update(data)
        changes = self.apply_data(initial)
        missing = [
            name
            for name, spec in self.wf.fields.items()
            if spec.required and self.case.data.get(name) in (None, "", [])
        ]
        if missing:
            raise Invalid(
                "required field missing: " + ", ".join(missing),
                [f"field '{m}' is required when the case starts" for m in missing],
            )
        seq = self._reserve_seq()
        self._entry(seq, "start", actor.name, to_state=self.case.state, changes=changes)
        self.wf.machine.enter_initial(_MachineModel(self), actor=actor, seq=seq, entry=None)
        self.settle()

    # -- fire ----------------------------------------------------------------------

    def decide(self, event: str, actor: Actor) -> Decision:
        """Decide ``event`` for ``actor`` in the case's state (see :func:`decide`)."""
        # Only a guard (``when``) reads the scope: without one, none is built.
        state = self.case.state
        scope = self._scope(actor) if (state, event) in self.wf.guarded else _NO_SCOPE
        return decide(
            self.wf,
            state,
            event,
            actor,
            self.case.data,
            scope,
            self.case.actors,
            self._approvals,
            self.ctx.functions,
        )

    def _approvals(self, event: str) -> set[str]:
        stored = self.ctx.approvals_of(self.case.id, self.case.visit, event)
        return stored | self._pending_approvals.get(event, set())

    def fire(
        self,
        event: str,
        actor: Actor,
        data: Mapping[str, Any] | None = None,
        comment: str | None = None,
        kind: str = "transition",
        settle: bool = True,
    ) -> FireOutcome:
        """Fire one event; raises NotPermitted/Refused/Invalid when it cannot be taken."""
        if self.case.closed:
            self.check_open(event, actor)
        changes = self.apply_data(data or {})
        decision = self.decide(event, actor)
        transition = decision.transition
        if transition is None:
            raise decision.error()
        self.check_before_transition(transition, actor)
        if decision.approval is None:
            self.take(transition, actor, changes, comment, kind)
            outcome = FireOutcome("transitioned", transition)
        else:
            outcome = self._vote(transition, decision.approval, actor, changes, comment, kind)
        if settle:
            self.settle()
        return outcome

    def check_open(self, event: str, actor: Actor) -> None:
        """Raise the refusal of firing ``event`` on a closed case (NotFound for no such event)."""
        if not self.case.closed:
            return
        if event not in self.wf.all_events:
            self.decide(event, actor)  # raises NotFound for an unknown event
        raise Refused(
            f"case is closed (state '{self.case.state}' is final)",
            [f"'{event}' cannot be fired on a closed case"],
        )

    def check_before_transition(self, transition: CompiledTransition, actor: Actor) -> None:
        """Ask the plugins' ``before_transition`` hooks; raise PluginRefusal when one refuses."""
        if not self.ctx.before_hooks or self.ctx.plugins is None:
            return
        if not self.ctx.plugins.has_before_transition:
            return
        refusals = self.ctx.plugins.before_transition(
            case=HookView(self.case.view().to_json()),
            transition=transition_view(transition.spec, self.case.state),
            actor=actor_view(actor.name, actor.roles),
        )
        if refusals:
            raise PluginRefusal(
                f"event '{transition.event}' refused by a plugin",
                list(refusals),
                transition.event,
                self.case.state,
            )

    def _vote(
        self,
        transition: CompiledTransition,
        approval: ApprovalProgress,
        actor: Actor,
        changes: dict[str, Any],
        comment: str | None,
        kind: str,
    ) -> FireOutcome:
        """Record ``actor``'s approval; the one that completes the vote takes the transition."""
        event = transition.event
        self._pending_approvals.setdefault(event, set()).add(actor.name)
        self.writes.approvals_add.append(
            {
                "case_id": self.case.id,
                "visit": self.case.visit,
                "event": event,
                "actor": actor.name,
                "at": self.ctx.now,
            }
        )
        progress = (approval.have, approval.need)
        if approval.complete:
            detail = {"approvals": sorted(approval.voters)}
            self.take(transition, actor, changes, comment, kind, detail)
            return FireOutcome("transitioned", transition, progress)
        state = self.case.state
        self._entry(
            self._reserve_seq(),
            "approval",
            actor.name,
            event=event,
            from_state=state,
            to_state=state,
            changes=changes,
            comment=comment,
            detail={"approvals": {"have": approval.have, "need": approval.need}},
        )
        self._remember_actor(event, actor)
        return FireOutcome("approval_recorded", transition, progress)

    def _remember_actor(self, event: str, actor: Actor) -> None:
        # Copied on write, never changed in place: the case shares the mapping with the row
        # as read (so an unchanged one is not compared or written) and with dry-run forks.
        actors = self.case.actors
        names = actors.get(event)
        if names is None or actor.name not in names:
            self.case.actors = {**actors, event: [*(names or ()), actor.name]}

    def take(
        self,
        transition: CompiledTransition,
        actor: Actor,
        changes: dict[str, Any],
        comment: str | None,
        kind: str = "transition",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write the transition's history entry and have the workflow's machine execute it.

        The machine runs the exit actions, the transition's ``do`` and the enter actions, in
        that order (see :mod:`opsflow.core.machine` and :class:`_MachineModel`). An internal
        transition (no ``to``) only runs its actions: the case keeps its state and visit, so
        the visit's approvals and deadlines stay as they are.
        """
        source = self.case.state
        internal = transition.to is None
        entry = self._entry(
            self._reserve_seq(),
            kind,
            actor.name,
            event=transition.event,
            from_state=source,
            to_state=source if internal else transition.to,
            changes=changes,
            comment=comment,
            # Marked, so that a replay of the history keeps the visit (from == to either way).
            detail={**(detail or {}), "internal": True} if internal else detail,
        )
        self.wf.machine.execute(
            transition, _MachineModel(self), actor=actor, seq=entry["seq"], entry=entry
        )
        self.transitions_taken.append((transition, actor, entry))

    # -- actions -------------------------------------------------------------------

    def run_actions(
        self,
        actions: tuple[CompiledAction, ...],
        actor: Actor,
        event: str | None,
        seq: int,
        entry: dict[str, Any] | None = None,
        origin: dict[str, Any] | None = None,
    ) -> None:
        """Run actions in order; ``set`` changes go into ``entry`` (or a ``data`` entry)."""
        for action in actions:
            if action.kind == "set":
                changes = self._set(action, actor)
                if not changes:
                    continue
                if entry is not None:
                    entry["data_changes"].update(changes)
                else:
                    self._entry(self._reserve_seq(), "data", SYSTEM, changes=changes, detail=origin)
            elif action.kind == "notify":
                self._notify(action, actor, event)
            elif action.kind == "compute":
                names = list(action.spec.compute or [])
                self.automation(
                    "compute",
                    ",".join(names),
                    partial(self.compute, names, actor),
                    actor,
                    event,
                    metrics=names,
                )
            elif action.kind == "fire":
                assert action.spec.fire is not None
                self.followups.append((action.spec.fire, actor))

    def _set(self, action: CompiledAction, actor: Actor) -> dict[str, Any]:
        scope = self._scope(actor)
        values: dict[str, Any] = {}
        for name, expression, literal in action.set_values:
            if expression is None:
                values[name] = literal
                continue
            try:
                values[name] = _jsonable(expression.evaluate(scope, self.ctx.functions))
            except EvaluationError as exc:
                raise Invalid(
                    f"set {name}: '{expression.source}' could not be evaluated: {exc.message}"
                ) from exc
        return self.apply_data(values)

    def template_variables(self, actor: Actor, event: str | None) -> dict[str, Any]:
        variables: dict[str, Any] = {name: self.case.data.get(name) for name in self.wf.fields}
        variables.update(
            state=self.case.state,
            event=event,
            actor=actor.name,
            case_id=self.case.id,
            metrics=self.case.metric_values(),
            data=dict(self.case.data),
        )
        return variables

    def _notify(self, action: CompiledAction, actor: Actor, event: str | None) -> None:
        spec = action.spec.notify
        assert spec is not None
        variables = self.template_variables(actor, event)
        self.notices += 1
        key_source = f"{self.case.id}:{self._first_seq or self.case.seq}:{self.notices}"
        self.writes.outbox.append(
            {
                "case_id": self.case.id,
                "seq": self.case.seq,
                "channel": spec.channel,
                "recipient": render_message(spec.to, variables),
                "subject": render_message(spec.subject, variables) if spec.subject else None,
                "message": render_message(spec.message, variables),
                "event": event,
                "dedupe_key": hashlib.sha256(key_source.encode()).hexdigest()[:32],
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": self.ctx.now,
                "created_at": self.ctx.now,
            }
        )

    def compute(self, names: list[str], actor: Actor) -> dict[str, Any]:
        """Run calculators, store each result on the case and write a ``metric`` entry each."""
        results: dict[str, Any] = {}
        for name in names:
            spec = self.wf.metrics.get(name)
            if spec is None:
                raise Invalid(f"workflow '{self.wf.id}' has no metric '{name}'")
            record = run_metric(
                name,
                spec,
                case=self.case.view().to_json(),
                variables=self.template_variables(actor, None),
                plugins=self.ctx.plugins,
                sources=self.ctx.sources,
                base_dir=self.ctx.base_dir,
                now=self.ctx.now,
            )
            self.case.metrics[name] = record
            self.writes.computed.add(name)
            self._changed()
            results[name] = record["value"]
            self._entry(
                self._reserve_seq(), "metric", actor.name, detail={"metric": name, **record}
            )
        return results

    # -- automation that may fail without failing the step ---------------------------

    def _savepoint(self) -> _Savepoint:
        c, w = self.case, self.writes
        return _Savepoint(
            case=dict(c.__dict__),
            data=dict(c.data),
            metrics=dict(c.metrics),
            rules=copy_json(c.rules),
            counts=(
                len(w.history),
                len(w.outbox),
                len(w.approvals_add),
                len(w.incidents),
                len(self.transitions_taken),
                self.notices,
            ),
            left=set(w.left),
            entered=w.entered,
            changed=set(w.changed_fields),
            followups=list(self.followups),
            pending={k: set(v) for k, v in self._pending_approvals.items()},
            failed=dict(self.failed),
            done=set(w.done),
            computed=set(w.computed),
        )

    def _rollback(self, sp: _Savepoint) -> None:
        c, w = self.case, self.writes
        c.__dict__.update(sp.case)
        c.data, c.metrics, c.rules = sp.data, sp.metrics, sp.rules
        history, outbox, approvals, incidents, taken, self.notices = sp.counts
        del w.history[history:], w.outbox[outbox:], w.approvals_add[approvals:]
        del w.incidents[incidents:]  # a failure inside the failed piece is moot with it
        del self.transitions_taken[taken:]
        w.left, w.entered, w.changed_fields = sp.left, sp.entered, sp.changed
        self.followups = deque(sp.followups)
        self._pending_approvals = sp.pending
        self.failed, w.done, w.computed = sp.failed, sp.done, sp.computed
        if not w.history:
            self._first_seq = 0
        self._changed()

    def automation(
        self,
        kind: str,
        target: str,
        work: Callable[[], Any],
        actor: Actor,
        event: str | None = None,
        **detail: Any,
    ) -> bool:
        """Run one piece of automation; when it fails, undo it and keep the failure.

        The step goes on without it: a person's change is not lost to a calculator that
        failed, and the failure becomes an incident the worker retries (never dropped).
        """
        key = f"{kind}:{target}"
        if key in self.failed:
            return False
        sp = self._savepoint()
        state, visit = self.case.state, self.case.visit
        try:
            work()
        except Exception as exc:
            if isinstance(exc, (Busy, *self.ctx.fatal)):
                raise
            self._rollback(sp)  # a failure inside it is moot with it (and tried again)
            message = failure_text(exc)
            self.failed[key] = message
            self.writes.incidents.append(
                {
                    "kind": kind,
                    "target": target,
                    "workflow": self.wf.id,
                    "case_id": self.case.id,
                    "state": state,
                    "visit": visit,
                    "event": event,
                    "actor": actor.name,
                    "detail": detail,
                    "error": message,
                }
            )
            return False
        self.writes.done.add(key)
        return True

    # -- settling: rules, automatic transitions, follow-ups --------------------------

    def settle(self) -> None:
        """Run rules and automatic transitions until nothing changes, then follow-up fires."""
        trail = [self.case.state]
        for _ in range(MAX_CHAIN):
            if self._run_rules():
                continue
            auto = self._auto_transition()
            if auto is not None:
                system = self.actor(SYSTEM)
                take = partial(self.take, auto, system, {}, None, "transition")
                if self.automation("auto", auto.event, take, system, auto.event):
                    trail.append(self.case.state)
                continue
            if self.followups and not self.case.closed:
                event, actor = self.followups.popleft()
                self.follow_up(event, actor)
                continue
            self.followups.clear()
            return
        raise Invalid(
            f"automatic steps did not settle after {MAX_CHAIN} rounds (a loop?): "
            + " → ".join(trail[:12])
            + (" → …" if len(trail) > 12 else ""),
            ["check the 'auto' transitions, rules and 'fire' actions for a cycle"],
        )

    def _auto_transition(self) -> CompiledTransition | None:
        if self.case.closed:
            return None
        candidates = self.wf.auto.get(self.case.state, ())
        if not candidates:
            return None
        scope = self._scope(self.actor(SYSTEM))
        for transition in candidates:
            if f"auto:{transition.event}" in self.failed:
                continue
            try:
                when = transition.when
                if when is None or when.evaluate(scope, self.ctx.functions):
                    return transition
            except EvaluationError:
                continue
        return None

    def _run_rules(self) -> bool:
        """Edge-triggered rules: run actions when ``when`` turns true. True when any ran."""
        if not self.wf.rules:
            return False
        system = self.actor(SYSTEM)
        scope = self._scope(system)
        ran = False
        for rule in self.wf.rules:
            state = self.case.rules.setdefault(rule.name, {"active": False, "runs": 0})
            try:
                holds = bool(rule.when.evaluate(scope, self.ctx.functions))
            except EvaluationError:
                holds = False
            if not holds:
                state["active"] = False
                continue
            if state["active"]:
                continue
            state["active"] = True
            if rule.once and state["runs"] >= 1:
                continue
            state["runs"] += 1
            self.run_rule(rule.name, system)
            ran = True
            scope = self._scope(system)
        return ran

    def run_rule(self, name: str, actor: Actor) -> bool:
        """Run one rule's actions as a piece of automation (its edge is already taken)."""
        rule = next(r for r in self.wf.rules if r.name == name)
        work = partial(
            self.run_actions, rule.actions, actor, None, self.case.seq, None, {"rule": name}
        )
        return self.automation("rule", name, work, actor, rule=name)

    def change_data(
        self, values: Mapping[str, Any], actor: str, comment: str | None = None
    ) -> dict[str, Any]:
        """A person's data change: applied, audited as a ``data`` entry, then settled."""
        if self.case.closed:
            raise Refused(
                f"case is closed (state '{self.case.state}' is final); its data can't change"
            )
        changes = self.apply_data(values)
        self._entry(self._reserve_seq(), "data", actor, changes=changes, comment=comment)
        self.settle()
        return changes

    def record_migration(
        self, actor: str, to_state: str, changes: dict[str, Any], detail: dict[str, Any]
    ) -> None:
        """The ``migration`` entry of a case moved to another version (see runners.migrate)."""
        self._entry(
            self._reserve_seq(),
            "migration",
            actor,
            from_state=self.case.state,
            to_state=to_state,
            changes=changes,
            detail=detail,
        )

    def record_note(self, kind: str, actor: str, detail: dict[str, Any]) -> None:
        """A history entry that changes nothing on the case (an incident retried or resolved)."""
        state = self.case.state
        self._entry(
            self._reserve_seq(), kind, actor, from_state=state, to_state=state, detail=detail
        )

    def record_denial(
        self, actor: str, event: str, error: OpsflowError, state: str, **extra: Any
    ) -> None:
        """A ``denied`` entry: who tried ``event`` in ``state`` and why not; nothing changes."""
        self._entry(
            self._reserve_seq(),
            "denied",
            actor,
            event=event,
            from_state=state,
            to_state=state,
            detail={"reason": error.message, "reasons": list(error.reasons), **extra},
        )

    def follow_up(self, event: str, actor: Actor) -> bool:
        """A ``fire`` action's event, as a piece of automation."""
        work = partial(self.fire, event, actor, settle=False)
        return self.automation("fire", event, work, actor, event)


class _MachineModel:
    """A step's case as the workflow machine's model, for one move.

    ``state`` starts as the working case's state; the machine sets it between exit and
    entry, and entry copies it to the case. The machine calls these methods in the order
    of a move (see :mod:`opsflow.core.machine`); ``event_data.kwargs`` carries the actor,
    the history entry and its ``seq``.
    """

    __slots__ = ("step", "state")

    def __init__(self, step: Step) -> None:
        self.step = step
        self.state = step.case.state

    def leave(self, event_data: EventData) -> None:
        """Run the exit actions of the state left (called only for a state that has some)."""
        step = self.step
        move = cast(Move, event_data.transition)
        kwargs = event_data.kwargs
        actions = step.wf.on_exit[step.case.state]
        event = move.compiled.event
        step.run_actions(actions, kwargs["actor"], event, kwargs["seq"], kwargs["entry"])

    def arrive(self, event_data: EventData) -> None:
        """End the visit left, begin one here, run the transition's ``do`` actions, then the
        state's enter actions. A starting case (no transition) is in its first visit."""
        step, case = self.step, self.step.case
        move = cast("Move | None", event_data.transition)
        event = None
        if move is not None:
            step.writes.left.add(move.source)
            step._pending_approvals.clear()  # the visit's votes end with it
            case.state = self.state  # where the machine moved it
            case.visit += 1
            case.entered_at = step.ctx.now
            case.closed = case.state in step.wf.finals
            step._changed()
            event = self._do(move, event_data.kwargs)
        step.writes.entered = True
        actions = step.wf.on_enter.get(case.state)
        if actions:
            kwargs = event_data.kwargs
            step.run_actions(actions, kwargs["actor"], event, kwargs["seq"], kwargs["entry"])

    def run_transition_actions(self, event_data: EventData) -> None:
        """An internal transition's ``do`` actions (the machine's ``after`` callback)."""
        self._do(cast(Move, event_data.transition), event_data.kwargs)

    def _do(self, move: Move, kwargs: dict[str, Any]) -> str:
        """The transition's ``do`` actions, as the actor who fired it; its event."""
        transition = cast(CompiledTransition, move.compiled)
        actor = kwargs["actor"]
        self.step._remember_actor(transition.event, actor)
        if transition.actions:
            self.step.run_actions(
                transition.actions, actor, transition.event, kwargs["seq"], kwargs["entry"]
            )
        return transition.event


def failure_text(exc: BaseException) -> str:
    """One line saying what went wrong, with the reasons an opsflow error carries."""
    if isinstance(exc, OpsflowError):
        reasons = [r for r in exc.reasons if r not in exc.message]
        return "; ".join([exc.message, *reasons])
    return f"{type(exc).__name__}: {exc}"


def _unknown_field(name: str, fields: Mapping[str, Any]) -> str:
    return f"unknown field '{name}'{did_you_mean(name, fields)}"


def _jsonable(value: Any) -> Any:
    """An expression result as a value a field can hold (dates become their ISO text)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
