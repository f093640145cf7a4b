"""Where a transition is decided: the candidates of an event, their checks, and the refusal.

SPEC §2.3: the candidates of (state, event) are tried in file order; the first whose roles,
requires, not_by and when all pass is taken. When none passes, the answer lists for each
candidate the first check that failed. The refusal is ``NotPermitted`` (exit 3) when every
candidate failed on who the actor is (roles, approval eligibility, four-eyes), ``Refused``
(exit 4) otherwise.
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
    """Who fires: a name and the roles the project's team gives it. ``system`` runs timers."""

    name: str
    roles: frozenset[str] = frozenset()

    @property
    def is_system(self) -> bool:
        return self.name == SYSTEM

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


@dataclass
class Decision:
    """The transition taken, or why every candidate was refused."""

    event: str
    state: str
    transition: CompiledTransition | None = None
    failures: list[Failure] = field(default_factory=list)
    automatic: bool = False  # the event is an auto transition out of this state

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


def _guard(t: CompiledTransition, scope: Mapping[str, Any], functions: Mapping[str, Any]) -> str:
    """'' when the guard holds, else the reason it does not."""
    if t.when is None:
        return ""
    try:
        if t.when.evaluate(scope, functions):
            return ""
        return f"when: '{t.when.source}' is false"
    except EvaluationError as exc:
        return f"when: '{t.when.source}' could not be evaluated: {exc.message}"


def _roles_reason(allowed: frozenset[str] | None, actor: Actor, what: str) -> str:
    if allowed is None or actor.is_system or actor.roles & allowed:
        return ""
    people = sorted(allowed - {SYSTEM})
    if not people:  # ``roles: [system]``
        return f"{what}: only opsflow itself (a timer or an automatic step) may fire it"
    held = ", ".join(sorted(actor.roles)) or "no roles"
    return f"{what}: needs one of {', '.join(people)} ({actor.name} has {held})"


def system_only(t: CompiledTransition) -> bool:
    """``roles: [system]``: no person may fire the transition, a veto included."""
    return t.roles is not None and t.roles <= {SYSTEM}


def vetoes(wf: CompiledWorkflow, state: str, event: str, actor: Actor) -> bool:
    """Whether ``actor`` is an eligible approver of a veto vote in ``state`` on another event."""
    for ct in wf.veto_events.get(state, ()):
        if ct.event != event and (ct.approver_roles is None or actor.roles & ct.approver_roles):
            return True
    return False


def check_candidate(
    wf: CompiledWorkflow,
    t: CompiledTransition,
    state: str,
    actor: Actor,
    data: Mapping[str, Any],
    scope: Mapping[str, Any],
    actors_by_event: Mapping[str, list[str]],
    approvals: Callable[[str], set[str]],
    functions: Mapping[str, Any],
) -> Failure | None:
    """The first failing check of one candidate, in SPEC order: roles, requires, not_by, when."""
    if t.approvals is not None:
        reason = _roles_reason(t.approver_roles, actor, "approval")
        if not reason and actor.name in approvals(t.event):
            reason = f"approval: {actor.name} has already approved"
        if reason:
            return Failure(t, "approval", reason, permission=True)
    elif system_only(t) or not vetoes(wf, state, t.event, actor):
        reason = _roles_reason(t.roles, actor, "roles")
        if reason:
            return Failure(t, "roles", reason, permission=True)
    missing = [name for name in t.requires if is_empty(data.get(name))]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        return Failure(t, "requires", f"requires: {names} empty", permission=False)
    if t.not_by and not actor.is_system:
        for event in t.not_by:
            if actor.name in actors_by_event.get(event, ()):
                reason = f"four-eyes: {actor.name} fired '{event}' on this case"
                return Failure(t, "not_by", reason, permission=True)
    guard = _guard(t, scope, functions)
    if guard:
        return Failure(t, "when", guard, permission=False)
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
    """Try the candidates of (state, event) in file order."""
    if event not in wf.all_events:
        raise NotFound(f"workflow '{wf.id}' has no event '{event}'")
    decision = Decision(event=event, state=state)
    decision.automatic = any(t.event == event for t in wf.auto.get(state, ()))
    for t in wf.candidates(state, event):
        failure = check_candidate(
            wf, t, state, actor, data, scope, actors_by_event, approvals, functions
        )
        if failure is None:
            decision.transition = t
            return decision
        decision.failures.append(failure)
    return decision
