"""Decisions shown, not taken: what each event would do for an actor, and dry runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsflow.engine.decide import Actor
from opsflow.engine.results import EventStatus, FireResult
from opsflow.engine.step import Step


def event_statuses(step: Step, name: str) -> list[EventStatus]:
    """For every event a person can fire: allowed now for ``name``, or why not."""
    case, wf = step.case, step.wf
    actor = step.actor(name)
    out = []
    for event in wf.events:
        if case.closed:
            out.append(EventStatus(event, False, [f"case is closed ('{case.state}' is final)"]))
            continue
        decision = step.decide(event, actor)
        if decision.transition is not None:
            out.append(EventStatus(event, True, []))
        elif not decision.failures:
            out.append(EventStatus(event, False, [f"not available in state '{case.state}'"]))
        else:
            out.append(EventStatus(event, False, decision.reasons))
    return out


def dry_run(step: Step, event: str, actor: Actor, data: Mapping[str, Any]) -> FireResult:
    """What firing ``event`` would do; raises the refusal a real fire would raise."""
    case, wf = step.case, step.wf
    view = case.view()
    if case.closed:
        step.fire(event, actor, data)  # raises the closed-case refusal
    step.apply_data(data)
    decision = step.decide(event, actor)
    if decision.transition is None:
        raise decision.error()
    ct = decision.transition
    actions = [a.spec.model_dump(exclude_none=True) for a in ct.actions]
    actions += [a.spec.model_dump(exclude_none=True) for a in wf.on_enter.get(ct.to, ())]
    would: dict[str, Any] = {"to": ct.to, "actions": actions}
    if ct.approvals is not None:
        have = len(step._approvals(event)) + 1
        need = ct.approvals.required
        would["approvals"] = {"have": have, "need": need}
        if have < need:
            would["to"] = case.state
            would["actions"] = []
    return FireResult(case=view, outcome="dry_run", would=would, from_state=case.state)
