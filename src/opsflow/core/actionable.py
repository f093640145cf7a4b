"""Where a person may act: the states worth looking at for an inbox, and the events offered.

An inbox must not evaluate every open case. The states where someone's roles let them fire
at least one event are known from the definition alone, so only the cases in those states
are read; each is then decided as a fire would decide it (requires, four-eyes, guards,
approvals already given).
"""

from __future__ import annotations

from opsflow.core.compiled import CompiledTransition, CompiledWorkflow
from opsflow.core.decide import Actor, system_only, vetoes
from opsflow.core.preview import event_statuses
from opsflow.core.results import EventStatus
from opsflow.core.step import Step


def timed_events(wf: CompiledWorkflow, state: str) -> frozenset[str]:
    """The state's deadline events that name no roles: the worker's job, not an inbox item."""
    return frozenset(
        d.event
        for d in wf.deadlines.get(state, ())
        if not any(c.roles for c in wf.candidates(state, d.event))
    )


def _by_role(wf: CompiledWorkflow, state: str, t: CompiledTransition, actor: Actor) -> bool:
    """Whether ``actor``'s roles pass ``t``'s roles check (the first check ``decide`` makes)."""
    if t.approvals is not None:
        return t.approver_roles is None or bool(actor.roles & t.approver_roles)
    if system_only(t):
        return False
    if vetoes(wf, state, t.event, actor):
        return True
    return t.roles is None or bool(actor.roles & t.roles)


def states_for(wf: CompiledWorkflow, actor: Actor) -> frozenset[str]:
    """The open states of ``wf`` where ``actor`` could fire some inbox event by role alone.

    A case in any other state cannot be in the actor's inbox, whatever its data or history.
    """
    found = set()
    for state in wf.spec.states:
        if state in wf.finals:
            continue
        timed = timed_events(wf, state)
        for event in wf.events:
            if event in timed:
                continue
            if any(_by_role(wf, state, t, actor) for t in wf.candidates(state, event)):
                found.add(state)
                break
    return frozenset(found)


def inbox_events(step: Step, name: str) -> list[EventStatus]:
    """The events ``name`` may fire on the step's case now, deadline-only events left out."""
    timed = timed_events(step.wf, step.case.state)
    return [e for e in event_statuses(step, name) if e.allowed and e.event not in timed]


__all__ = ["inbox_events", "states_for", "timed_events"]
