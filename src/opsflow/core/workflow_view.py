"""One workflow version as a client sees it: enough to build a form and a board.

``GET /v1/workflows/{id}`` answers this; it is taken from the compiled definition (never
by reading YAML again), so what a client is shown is what a fire decides by.
"""

from __future__ import annotations

from typing import Any

from opsflow.core.compiled import CompiledTransition, CompiledWorkflow
from opsflow.core.decide import SYSTEM, system_only
from opsflow.language.models import AssignSpec, FieldSpec, StateSpec


def person_may_fire(transition: CompiledTransition) -> bool:
    """Whether a person (not opsflow itself) may fire the transition: not auto, not system."""
    return not transition.auto and not system_only(transition)


def _field(name: str, spec: FieldSpec) -> dict[str, Any]:
    return {
        "name": name,
        "type": spec.type,
        "title": spec.title,
        "description": spec.description,
        "required": spec.required,
        "default": spec.default,
        "min": spec.min,
        "max": spec.max,
        "max_length": spec.max_length,
        "pattern": spec.pattern,
        "values": list(spec.values) if spec.values is not None else None,
    }


def _state(wf: CompiledWorkflow, name: str, spec: StateSpec) -> dict[str, Any]:
    events = [e for e in wf.events if any(person_may_fire(t) for t in wf.candidates(name, e))]
    return {
        "name": name,
        "title": spec.title,
        "description": spec.description,
        "initial": spec.initial,
        "final": spec.final,
        "sla": spec.sla.model_dump(exclude_none=True) if spec.sla else None,
        "timer": spec.timer.model_dump(exclude_none=True) if spec.timer else None,
        "assign": _assign(spec.assign),
        "events": events,  # events a person may fire out of this state, in file order
    }


def _assign(spec: AssignSpec | None) -> dict[str, str] | None:
    """Who the state gives a case to on entry: a field, or a role and its policy."""
    if spec is None:
        return None
    if spec.field is not None:
        return {"field": spec.field}
    return {"role": str(spec.role), "policy": spec.rotation}


def _transition(wf: CompiledWorkflow, t: CompiledTransition) -> dict[str, Any]:
    position = {state: index for index, state in enumerate(wf.spec.states)}
    approvals = t.approvals
    return {
        "event": t.event,
        "title": t.spec.title,
        "description": t.spec.description,
        "from": sorted(t.sources, key=position.__getitem__),
        "from_any": t.spec.from_any,
        "to": t.to,
        "internal": t.internal,
        "roles": list(t.spec.roles) if t.spec.roles is not None else None,
        "requires": list(t.requires),
        "not_by": list(t.not_by),
        "approvals": (
            {
                "required": approvals.required,
                "roles": sorted(t.approver_roles) if t.approver_roles is not None else None,
                "veto": approvals.veto,
            }
            if approvals is not None
            else None
        ),
        "when": t.when.source if t.when is not None else None,
        "auto": t.auto,
        "person": person_may_fire(t),
    }


def roles_used(wf: CompiledWorkflow) -> list[str]:
    """The roles the transitions name (roles and approvers), ``system`` left out, sorted."""
    used: set[str] = set()
    for transitions in (*wf.table.values(), *wf.auto.values()):
        for t in transitions:
            used |= t.roles or frozenset()
            used |= t.approver_roles or frozenset()
    return sorted(used - {SYSTEM})


def describe(wf: CompiledWorkflow) -> dict[str, Any]:
    """The definition's states, transitions, roles and fields as plain JSON."""
    spec = wf.spec
    transitions = sorted(
        {t.index: t for ts in (*wf.table.values(), *wf.auto.values()) for t in ts}.values(),
        key=lambda t: t.index,
    )
    return {
        "id": wf.id,
        "version": wf.version,
        "title": spec.title,
        "description": spec.description,
        "initial": wf.initial,
        "roles": list(spec.roles),
        "roles_used": roles_used(wf),
        "readers": list(spec.readers) if spec.readers is not None else None,
        "fields": [_field(name, f) for name, f in spec.fields.items()],
        "states": [_state(wf, name, s) for name, s in spec.states.items()],
        "transitions": [_transition(wf, t) for t in transitions],
        "metrics": [
            {"name": name, "calculator": m.calculator, "description": m.description}
            for name, m in spec.metrics.items()
        ],
    }


__all__ = ["describe", "person_may_fire", "roles_used"]
