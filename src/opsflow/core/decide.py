"""Where a transition is decided: the candidates of an event, their checks, and the refusal.

SPEC §2.3: the candidates of (state, event) are tried in file order; the first whose roles,
requires, not_by and when all pass is taken. When none passes, the answer lists for each
candidate the first check that failed. The refusal is ``NotPermitted`` (exit 3) when every
candidate failed on who the actor is (roles, approval eligibility, four-eyes), ``Refused``
(exit 4) otherwise. When the transition taken needs approvals, the decision also counts
the vote with this actor's approval: a fire records it, a dry run shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsflow.core.compiled import CompiledTransition, CompiledWorkflow
from opsflow.errors import NotFound, NotPermitted, OpsflowError, Refused
from opsflow.language.expressions import EvaluationError
from opsflow.language.fields import is_empty

SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who fires: a name and the roles the project's team gives it. ``system`` runs timers.

    While a delegation to them is active, ``roles`` also holds the roles of each person
    they stand in for (``stands_in_for``: (delegator, the delegator's roles)), and
    ``own_roles`` their own (see :mod:`opsflow.core.delegation`).
    """

    name: str
    roles: frozenset[str] = frozenset()
    stands_in_for: tuple[tuple[str, frozenset[str]], ...] = ()
    own: frozenset[str] | None = None  # their own roles, when they stand in for someone

    @property
    def is_system(self) -> bool:
        return self.name == SYSTEM

    @property
    def own_roles(self) -> frozenset[str]:
        return self.roles if self.own is None else self.own

    @property
    def identities(self) -> frozenset[str]:
        """Who this actor counts as for four-eyes and approvals: them and whom they cover."""
        return frozenset((self.name, *(person for person, _ in self.stands_in_for)))

    def on_behalf_of(self, allowed: frozenset[str]) -> str | None:
        """The first person stood in for whose roles meet ``allowed`` (None: no one's)."""
        return next((p for p, roles in self.stands_in_for if roles & allowed), None)

    def to_scope(self) -> dict[str, Any]:
        return {"name": self.name, "roles": sorted(self.roles)}


@dataclass(frozen=True)
class Failure:
    """The first check a candidate failed."""

    transition: CompiledTransition
    check: str  # roles not_by approval requires when
    reason: str
    permission: bool  # roles, approval eligibility or four-eyes: the actor may not

    def line(self) -> str:
        return f"{self.transition.describe()}: {self.reason}"


@dataclass(frozen=True)
class ApprovalProgress:
    """An approvals vote counted with this actor's approval (SPEC §2.3 ``approvals``)."""

    voters: frozenset[str]  # who has approved in this visit, this actor included
    need: int

    @property
    def have(self) -> int:
        return len(self.voters)

    @property
    def complete(self) -> bool:
        """This approval is the last one needed: the transition is taken."""
        return self.have >= self.need


@dataclass
class Decision:
    """The transition taken (with its vote, if it needs approvals), or why none can be."""

    event: str
    state: str
    transition: CompiledTransition | None = None
    failures: list[Failure] = field(default_factory=list)
    automatic: bool = False  # the event is an auto transition out of this state
    approval: ApprovalProgress | None = None  # the vote, when the transition needs approvals

    @property
    def reasons(self) -> list[str]:
        return [f.line() for f in self.failures]

    def error(self) -> OpsflowError:
        """The exception for a refused event: NotPermitted when only permission stood in the way."""
        if not self.failures:
            if self.automatic:
                return Refused(
                    f"event '{self.event}' is automatic in state '{self.state}'",
                    [f"opsflow takes '{self.event}' by itself when its condition holds"],
                )
            return Refused(
                f"event '{self.event}' is not available in state '{self.state}'",
                [f"no transition on '{self.event}' leaves '{self.state}'"],
            )
        if all(f.permission for f in self.failures):
            return NotPermitted(
                f"not permitted to fire '{self.event}' in state '{self.state}'", self.reasons
            )
        return Refused(f"event '{self.event}' refused in state '{self.state}'", self.reasons)


def _guard(
    transition: CompiledTransition, scope: Mapping[str, Any], functions: Mapping[str, Any]
) -> str:
    """'' when the guard holds, else the reason it does not."""
    when = transition.when
    if when is None:
        return ""
    try:
        if when.evaluate(scope, functions):
            return ""
        return f"when: '{when.source}' is false"
    except EvaluationError as exc:
        return f"when: '{when.source}' could not be evaluated: {exc.message}"


def _roles_reason(allowed: frozenset[str] | None, actor: Actor, what: str) -> str:
    if allowed is None or actor.is_system or actor.roles & allowed:
        return ""
    people = sorted(allowed - {SYSTEM})
    if not people:  # ``roles: [system]``
        return f"{what}: only opsflow itself (a timer or an automatic step) may fire it"
    held = ", ".join(sorted(actor.roles)) or "no roles"
    return f"{what}: needs one of {', '.join(people)} ({actor.name} has {held})"


def _as_whom(actor: Actor, names: frozenset[str]) -> str:
    """Who of ``names`` a refusal names: the actor, else the person they stand in for."""
    if actor.name in names:
        return actor.name
    return f"{min(names)} (for whom {actor.name} stands in)"


def system_only(transition: CompiledTransition) -> bool:
    """``roles: [system]``: no person may fire the transition, a veto included."""
    return transition.roles is not None and transition.roles <= {SYSTEM}


def vetoes(wf: CompiledWorkflow, state: str, event: str, actor: Actor) -> bool:
    """Whether ``actor`` is an eligible approver of a veto vote in ``state`` on another event."""
    for vote in wf.veto_events.get(state, ()):
        if vote.event != event and (
            vote.approver_roles is None or actor.roles & vote.approver_roles
        ):
            return True
    return False


def check_candidate(
    wf: CompiledWorkflow,
    transition: CompiledTransition,
    state: str,
    actor: Actor,
    data: Mapping[str, Any],
    scope: Mapping[str, Any],
    actors_by_event: Mapping[str, list[str]],
    approvals: Callable[[str], set[str]],
    functions: Mapping[str, Any],
) -> Failure | None:
    """The first failing check of one candidate, in SPEC order: roles, requires, not_by, when."""
    if transition.approvals is not None:
        reason = _roles_reason(transition.approver_roles, actor, "approval")
        voted = actor.identities & approvals(transition.event)
        if not reason and voted:
            reason = f"approval: {_as_whom(actor, voted)} has already approved"
        if reason:
            return Failure(transition, "approval", reason, permission=True)
    elif system_only(transition) or not vetoes(wf, state, transition.event, actor):
        reason = _roles_reason(transition.roles, actor, "roles")
        if reason:
            return Failure(transition, "roles", reason, permission=True)
    missing = [name for name in transition.requires if is_empty(data.get(name))]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        return Failure(transition, "requires", f"requires: {names} empty", permission=False)
    if transition.not_by and not actor.is_system:
        for event in transition.not_by:
            fired = actor.identities.intersection(actors_by_event.get(event, ()))
            if fired:
                reason = f"four-eyes: {_as_whom(actor, fired)} fired '{event}' on this case"
                return Failure(transition, "not_by", reason, permission=True)
    guard = _guard(transition, scope, functions)
    if guard:
        return Failure(transition, "when", guard, permission=False)
    return None


def decide(
    wf: CompiledWorkflow,
    state: str,
    event: str,
    actor: Actor,
    data: Mapping[str, Any],
    scope: Mapping[str, Any],
    actors_by_event: Mapping[str, list[str]],
    approvals: Callable[[str], set[str]],
    functions: Mapping[str, Any],
) -> Decision:
    """Try the candidates of (state, event) in file order; count the vote of the one taken.

    ``approvals(event)`` names who has approved ``event`` in the case's current visit.
    """
    if event not in wf.all_events:
        raise NotFound(f"workflow '{wf.id}' has no event '{event}'")
    decision = Decision(event=event, state=state)
    decision.automatic = any(auto.event == event for auto in wf.auto.get(state, ()))
    for transition in wf.candidates(state, event):
        failure = check_candidate(
            wf, transition, state, actor, data, scope, actors_by_event, approvals, functions
        )
        if failure is None:
            decision.transition = transition
            if transition.approvals is not None:
                voters = frozenset(approvals(event)) | {actor.name}
                decision.approval = ApprovalProgress(voters, transition.approvals.required)
            return decision
        decision.failures.append(failure)
    return decision
