"""One atomic step on one case: a start, fire, data change or compute, and all it sets off.

A step works on an in-memory :class:`WorkingCase` and collects the rows to write in
:class:`Writes`; the engine flushes them in the same transaction. Actions, rules,
automatic transitions and follow-up fires all run inside the step, bounded.

The step's parts live beside it, one job each: its actions (:mod:`opsflow.core.actions`),
a piece of automation under a savepoint (:mod:`opsflow.core.automation`), settling
(:mod:`opsflow.core.settling`), all three mixins of :class:`Step`, and the case as the
machine's model for a move (:mod:`opsflow.core.moves`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opsflow.clock import local
from opsflow.core.actions import Actions
from opsflow.core.automation import Automation, failure_text
from opsflow.core.compiled import CompiledTransition, CompiledWorkflow
from opsflow.core.context import StepContext
from opsflow.core.decide import Actor, ApprovalProgress, Decision, decide
from opsflow.core.delegation import actor_for, behalf, on_behalf
from opsflow.core.hookviews import HookView, actor_view, transition_view
from opsflow.core.moves import Moves
from opsflow.core.results import StepOutcome
from opsflow.core.settling import Settling
from opsflow.core.working import WorkingCase, Writes
from opsflow.errors import FieldError, Invalid, OpsflowError, PluginRefusal, Refused
from opsflow.language.fields import coerce_value
from opsflow.suggest import did_you_mean

# StepContext and failure_text are importable from here, as before the step was split.
__all__ = ["FireOutcome", "Step", "StepContext", "failure_text"]

_NO_SCOPE: Mapping[str, Any] = MappingProxyType({})


@dataclass
class FireOutcome:
    outcome: StepOutcome
    transition: CompiledTransition
    approvals: tuple[int, int] | None = None


@dataclass
class Step(Actions, Automation, Settling, Moves):
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
    first_seq: int = 0
    pending_votes: dict[str, set[str]] = field(default_factory=dict)
    # The state as the workflow machine sees it during a move (see opsflow.core.moves).
    machine_state: str = field(default="", repr=False, compare=False)
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
            found = self._actors[name] = actor_for(name, self.ctx.team, self.ctx.covering)
        return found

    def next_seq(self) -> int:
        """The case's next history ``seq``, taken for an entry this step writes."""
        self.case.seq += 1
        if not self.first_seq:
            self.first_seq = self.case.seq
        return self.case.seq

    def record_entry(
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
        """Add one history entry to the step's writes; the entry, for actions to fill in."""
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

    def scope_for(self, actor: Actor) -> dict[str, Any]:
        """The expressions' scope for ``actor``, built once until the case changes."""
        # Keyed by name: an actor's roles are fixed for the step (see ``actor``).
        scope = self._scopes.get(actor.name)
        if scope is None:
            now = local(self.ctx.now, self.ctx.zone)  # ``today`` is the date there
            scope = self.case.scope(self.wf, actor.to_scope(), now)
            self._scopes[actor.name] = scope
        return scope

    def data_changed(self) -> None:
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
                coerced[name] = coerce_value(name, spec, value, self.ctx.zone)
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
            self.data_changed()
        return changes

    # -- start ---------------------------------------------------------------------

    def start(self, data: Mapping[str, Any], actor: Actor, comment: str | None = None) -> None:
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
        seq = self.next_seq()
        self.record_entry(
            seq, "start", actor.name, to_state=self.case.state, changes=changes, comment=comment
        )
        self.machine_state = self.case.state
        self.wf.machine.enter_initial(self, actor=actor, seq=seq, entry=None)
        self.settle()

    # -- fire ----------------------------------------------------------------------

    def decide(self, event: str, actor: Actor) -> Decision:
        """Decide ``event`` for ``actor`` in the case's state (see :func:`decide`)."""
        # Only a guard (``when``) reads the scope: without one, none is built.
        state = self.case.state
        scope = self.scope_for(actor) if (state, event) in self.wf.guarded else _NO_SCOPE
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
        return stored | self.pending_votes.get(event, set())

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
        """Record ``actor``'s approval; the one that completes the vote takes the transition.

        A delegate who approves with the delegator's roles casts the delegator's vote: it is
        kept under the delegator's name (the history says who clicked), so the delegator
        cannot add a second one, nor the delegate another for them."""
        event = transition.event
        voter = behalf(self.wf, self.case.state, transition, actor) or actor.name
        if voter != actor.name:
            approval = ApprovalProgress((approval.voters - {actor.name}) | {voter}, approval.need)
        self.pending_votes.setdefault(event, set()).add(voter)
        self.writes.approvals_add.append(
            {
                "case_id": self.case.id,
                "visit": self.case.visit,
                "event": event,
                "actor": voter,
                "at": self.ctx.now,
            }
        )
        progress = (approval.have, approval.need)
        if approval.complete:
            detail = {"approvals": sorted(approval.voters)}
            self.take(transition, actor, changes, comment, kind, detail)
            return FireOutcome("transitioned", transition, progress)
        state = self.case.state
        self.record_entry(
            self.next_seq(),
            "approval",
            actor.name,
            event=event,
            from_state=state,
            to_state=state,
            changes=changes,
            comment=comment,
            detail={
                "approvals": {"have": approval.have, "need": approval.need},
                **on_behalf(self.wf, state, transition, actor),
            },
        )
        self.remember_actor(event, actor, behalf(self.wf, state, transition, actor))
        return FireOutcome("approval_recorded", transition, progress)

    def remember_actor(self, event: str, actor: Actor, on_behalf_of: str | None = None) -> None:
        """Keep ``actor`` (and whom they acted for) among those who fired ``event`` on the
        case, for four-eyes ``not_by``."""
        # Copied on write, never changed in place: the case shares the mapping with the row
        # as read (so an unchanged one is not compared or written) and with dry-run forks.
        actors = self.case.actors
        names = actors.get(event) or []
        new = [n for n in dict.fromkeys((actor.name, on_behalf_of)) if n and n not in names]
        if new:
            self.case.actors = {**actors, event: [*names, *new]}

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
        that order (see :mod:`opsflow.core.machine` and :mod:`opsflow.core.moves`). An
        internal transition (no ``to``) only runs its actions: the case keeps its state and
        visit, so the visit's approvals and deadlines stay as they are.
        """
        source = self.case.state
        internal = transition.to is None
        entry = self.record_entry(
            self.next_seq(),
            kind,
            actor.name,
            event=transition.event,
            from_state=source,
            to_state=source if internal else transition.to,
            changes=changes,
            comment=comment,
            # Marked, so that a replay of the history keeps the visit (from == to either way).
            detail={
                **(detail or {}),
                **({"internal": True} if internal else {}),
                **on_behalf(self.wf, source, transition, actor),
            },
        )
        self.machine_state = self.case.state
        self.wf.machine.execute(transition, self, actor=actor, seq=entry["seq"], entry=entry)
        self.transitions_taken.append((transition, actor, entry))

    def change_data(
        self, values: Mapping[str, Any], actor: str, comment: str | None = None
    ) -> dict[str, Any]:
        """A person's data change: applied, audited as a ``data`` entry, then settled."""
        if self.case.closed:
            raise Refused(
                f"case is closed (state '{self.case.state}' is final); its data can't change"
            )
        changes = self.apply_data(values)
        self.record_entry(self.next_seq(), "data", actor, changes=changes, comment=comment)
        self.settle()
        return changes

    def record_migration(
        self, actor: str, to_state: str, changes: dict[str, Any], detail: dict[str, Any]
    ) -> None:
        """The ``migration`` entry of a case moved to another version (see runners.migrate)."""
        self.record_entry(
            self.next_seq(),
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
        self.record_entry(
            self.next_seq(), kind, actor, from_state=state, to_state=state, detail=detail
        )

    def record_denial(
        self, actor: str, event: str, error: OpsflowError, state: str, **extra: Any
    ) -> None:
        """A ``denied`` entry: who tried ``event`` in ``state`` and why not; nothing changes."""
        self.record_entry(
            self.next_seq(),
            "denied",
            actor,
            event=event,
            from_state=state,
            to_state=state,
            detail={"reason": error.message, "reasons": list(error.reasons), **extra},
        )


def _unknown_field(name: str, fields: Mapping[str, Any]) -> str:
    return f"unknown field '{name}'{did_you_mean(name, fields)}"
