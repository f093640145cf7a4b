"""Decisions shown, not taken: what each event would do for an actor, and dry runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsflow.core.compiled import CompiledAction
from opsflow.core.decide import Actor
from opsflow.core.results import Case, EventStatus, FireResult
from opsflow.core.step import Step
from opsflow.core.working import copy_json
from opsflow.templating import render_message


def event_statuses(step: Step, name: str) -> list[EventStatus]:
    """For every event a person can fire: allowed now for ``name``, or why not."""
    case, wf = step.case, step.wf
    state = case.state
    if case.closed:
        closed = f"case is closed ('{state}' is final)"
        return [EventStatus(event, False, [closed]) for event in wf.events]
    actor = step.actor(name)
    unavailable = f"not available in state '{state}'"
    out = []
    for event in wf.events:
        if not wf.candidates(state, event):  # what decide would answer, without asking it
            out.append(EventStatus(event, False, [unavailable]))
            continue
        decision = step.decide(event, actor)
        if decision.transition is not None:
            out.append(EventStatus(event, True, []))
        elif not decision.failures:
            out.append(EventStatus(event, False, [unavailable]))
        else:
            out.append(EventStatus(event, False, decision.reasons))
    return out


def _described(step: Step, actions: tuple[CompiledAction, ...], actor: Actor, event: str) -> list:
    """Actions as a dry run shows them: notify messages rendered, the rest as written."""
    out: list[dict[str, Any]] = []
    variables: dict[str, Any] | None = None
    for action in actions:
        spec = copy_json(action.described())
        if action.kind == "notify" and action.spec.notify is not None:
            if variables is None:
                variables = step.template_variables(actor, event)
            notify = action.spec.notify
            spec["notify"] = {
                "channel": notify.channel,
                "to": render_message(notify.to, variables),
                "message": render_message(notify.message, variables),
            }
            if notify.subject:
                spec["notify"]["subject"] = render_message(notify.subject, variables)
        out.append(spec)
    return out


def dry_run(
    step: Step, event: str, actor: Actor, data: Mapping[str, Any], view: Case
) -> FireResult:
    """What firing ``event`` would do; raises the refusal a real fire would raise.

    It asks what a fire asks, with the same public functions: the closed-case check, the
    data, ``decide`` (which counts an approvals vote) and the plugins' ``before_transition``.
    The actions are those of leaving the state, the transition and entering the target,
    in that order (an internal transition's own only). Nothing is written.
    """
    case, wf = step.case, step.wf
    step.check_open(event, actor)
    step.apply_data(data)
    decision = step.decide(event, actor)
    transition = decision.transition
    if transition is None:
        raise decision.error()
    step.check_before_transition(transition, actor)
    would: dict[str, Any] = {"to": transition.to or case.state, "actions": []}
    approval = decision.approval
    if approval is not None:
        would["approvals"] = {"have": approval.have, "need": approval.need}
        if not approval.complete:
            would["to"] = case.state
            return FireResult(case=view, outcome="dry_run", would=would, from_state=case.state)
    if transition.to is None:  # internal: no leaving, no entering
        would["actions"] = _described(step, transition.actions, actor, event)
        return FireResult(case=view, outcome="dry_run", would=would, from_state=case.state)
    would["actions"] = (
        _described(step, wf.on_exit.get(case.state, ()), actor, event)
        + _described(step, transition.actions, actor, event)
        + _described(step, wf.on_enter.get(transition.to, ()), actor, event)
    )
    return FireResult(case=view, outcome="dry_run", would=would, from_state=case.state)
