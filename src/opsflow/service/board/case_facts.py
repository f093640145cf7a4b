"""What the case page shows, gathered from the engine's answers (no decision of its own).

One ``status`` read gives the case, its deadlines and, per event, whether the viewer may
fire it and why not; in a state whose events need approvals, one ``history`` read gives
who has approved in this visit (replayed as the audit replays it, ``core.replay``).
Everything else is the workflow's description (``views.workflow_view``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opsflow.config import project_zone
from opsflow.core.replay import replay
from opsflow.core.results import Case, FireResult
from opsflow.errors import OpsflowError
from opsflow.service.board import forms
from opsflow.service.board.pages import Viewer
from opsflow.service.board.reasons import reasons_of
from opsflow.service.board.views import case_label, deadline_chip, workflow_view


def read(engine: Any, case_id: str, me: Viewer) -> dict[str, Any]:
    """The case as ``me`` may see it (NotFound when they may not) and its workflow."""
    case: Case = engine.status(case_id, actor=me.actor)
    view = view_of(engine, case)
    votes: set[tuple[str, str]] = set()
    if not case.closed and _approval_transitions(view, case.state):
        entries = engine.history(case.id, actor=me.actor)
        votes = replay(
            {
                "kind": e.kind,
                "to_state": e.to_state,
                "detail": e.detail,
                "event": e.event,
                "actor": e.actor,
                "data_changes": {},
            }
            for e in entries
        ).approvals
    team = engine.settings.team
    people = engine.settings.people
    return {
        "case": case,
        "view": view,
        "votes": votes,
        "team": team,
        "names": {n: (p.display_name or n) for n, p in people.items()},
        "now": engine.clock(),
        "calendars": engine.settings.calendars,
        "zone": project_zone(engine.settings),
    }


def view_of(engine: Any, case: Case) -> dict[str, Any]:
    """The case's workflow as the page shows it: the current version's description, with
    the fields of the version the case is pinned to (the engine parses by those)."""
    view = workflow_view(engine, case.workflow)
    if case.version != view["version"]:
        pinned = engine.workflow_spec(case.workflow, case.version)
        view = {**view, "fields": forms.fields_of(pinned), "version": case.version}
    return view


def page_context(
    facts: Mapping[str, Any], me: Viewer, outcome: Mapping[str, Any], note: str | None
) -> dict[str, Any]:
    """The template's context: the case, its events, approvals, metrics, the form."""
    case: Case = facts["case"]
    view: dict[str, Any] = facts["view"]
    here = set(view["state_map"].get(case.state, {}).get("events", ()))
    events = [_event(view, case, status) for status in case.events]
    error: OpsflowError | None = outcome.get("error")
    where = outcome.get("where")
    data_error = error if where == "data" else None
    fired: FireResult | None = outcome.get("fired")
    return {
        "case": case,
        "view": view,
        "label": case_label(case, view),
        "state": view["state_map"].get(case.state, {"name": case.state}),
        "events_here": [e for e in events if e["name"] in here],
        "events_elsewhere": [e for e in events if e["name"] not in here],
        "approvals": _approvals(view, case, facts["votes"], facts["names"]),
        "metrics": _metrics(view, case),
        "deadlines": _deadlines(case, facts["now"], facts.get("calendars")),
        "fields": forms.form_fields(
            view,
            case.data,
            outcome.get("problems") if data_error else None,
            outcome.get("typed") if data_error and not outcome.get("stale") else None,
            facts["zone"],
        ),
        "field_map": {f["name"]: f for f in view["fields"]},
        "names": facts["names"],
        "now": facts["now"],
        "note": note or outcome.get("note"),
        "fired": fired,
        "fired_event": outcome.get("event") if fired else None,
        "error": error,
        "error_where": where,
        "error_event": outcome.get("event"),
        "error_reasons": reasons_of(error.reasons) if error is not None else [],
        "general": outcome.get("general", []),
        "stale": bool(outcome.get("stale")),
        "assignment": _assignment(view, case, me, facts["team"]),
        "preview": None,
    }


def preview_context(
    view: Mapping[str, Any],
    event: str,
    result: FireResult | None = None,
    error: OpsflowError | None = None,
) -> dict[str, Any]:
    """What a dry run would do (target state, actions, approvals), or why it is refused."""
    would = (result.would or {}) if result is not None else {}
    approvals = result.to_json().get("approvals") if result is not None else None
    target = would.get("to")
    return {
        "view": view,
        "field_map": {f["name"]: f for f in view["fields"]},
        "preview_event": view["event_map"].get(event, {"event": event, "title": None}),
        "preview_to": view["state_map"].get(target, {"name": target}) if target else None,
        "preview_actions": [_action(a) for a in would.get("actions", [])],
        "preview_approvals": approvals or would.get("approvals"),
        "preview_error": error,
        "preview_reasons": reasons_of(error.reasons) if error is not None else [],
    }


# -- pieces ------------------------------------------------------------------------------


def _transitions_of(view: Mapping[str, Any], state: str, event: str) -> list[dict[str, Any]]:
    return [
        t
        for t in view["transitions"]
        if t["event"] == event and (state in t["from"] or t["from_any"])
    ]


def _approval_transitions(view: Mapping[str, Any], state: str) -> list[dict[str, Any]]:
    return [
        t
        for t in view["transitions"]
        if t["approvals"] and (state in t["from"] or t["from_any"]) and t["person"]
    ]


def _event(view: Mapping[str, Any], case: Case, status: Any) -> dict[str, Any]:
    """One event's button: its title, where it leads from here, allowed or why not."""
    leads = _transitions_of(view, case.state, status.event)
    targets: list[str] = []
    for t in leads:
        if t["to"] and t["to"] not in targets:
            targets.append(t["to"])
    first = view["event_map"].get(status.event, {})
    return {
        "name": status.event,
        "title": first.get("title"),
        "description": next((t["description"] for t in leads if t["description"]), None),
        "targets": [view["state_map"].get(t, {"name": t}) for t in targets],
        "allowed": status.allowed,
        "reasons": reasons_of(status.reasons),
        "approvals": next((t["approvals"] for t in leads if t["approvals"]), None),
    }


def _approvals(
    view: Mapping[str, Any],
    case: Case,
    votes: set[tuple[str, str]],
    names: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Per event needing approvals here: how many of how many, and who approved."""
    out = []
    seen: set[str] = set()
    for t in _approval_transitions(view, case.state) if not case.closed else []:
        if t["event"] in seen:
            continue
        seen.add(t["event"])
        voters = sorted(actor for event, actor in votes if event == t["event"])
        need = t["approvals"]["required"]
        out.append(
            {
                "event": view["event_map"].get(t["event"], {"event": t["event"]}),
                "to": view["state_map"].get(t["to"], {"name": t["to"]}) if t["to"] else None,
                "need": need,
                "have": min(len(voters), need),
                "voters": [names.get(v, v) for v in voters],
                "roles": t["approvals"]["roles"] or [],
                "veto": t["approvals"]["veto"],
            }
        )
    return out


def _metrics(view: Mapping[str, Any], case: Case) -> list[dict[str, Any]]:
    """Every metric of the workflow with its evidence when computed."""
    out = []
    declared = {m["name"]: m for m in view.get("metrics", [])}
    for name in [*declared, *(n for n in case.metric_details if n not in declared)]:
        detail = case.metric_details.get(name) or {}
        out.append(
            {
                "name": name,
                "description": declared.get(name, {}).get("description"),
                "calculator": detail.get("calculator") or declared.get(name, {}).get("calculator"),
                "computed": bool(detail),
                "value": detail.get("value"),
                "numeric": isinstance(detail.get("value"), int | float)
                and not isinstance(detail.get("value"), bool),
                "computed_at": _moment(detail.get("computed_at")),
                "params": detail.get("params") or {},
                "fingerprint": detail.get("fingerprint"),
            }
        )
    return out


def _deadlines(
    case: Case, now: datetime, calendars: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The pending deadlines, soonest first; each judged as the inbox's SLA chips are (a
    timer is never amber), in working time when it counts on a business calendar."""
    found = []
    for d in sorted(case.deadlines, key=lambda d: d.due_at):
        if d.status != "pending":
            continue
        chip = deadline_chip(d, case.entered_at, now, calendars)
        tone = chip.tone if d.kind == "sla" or chip.overdue else "ok"
        found.append({"deadline": d, "overdue": chip.overdue, "tone": tone, "chip": chip})
    return found


def _moment(text: Any) -> datetime | None:
    """A stored ISO 8601 time (a metric's ``computed_at``) as a datetime, to show it."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _assignment(
    view: Mapping[str, Any], case: Case, me: Viewer, team: Mapping[str, list[str]]
) -> dict[str, Any]:
    """What the assignee box offers: who can be assigned, and whether ``me`` may change it.

    The engine decides (engine.assignment); this only hides controls that would be refused:
    the assignee, admins and holders of a role acting in this state may change it.
    """
    acting = set(view.get("roles_used", []))
    state_roles: set[str] = set()
    for t in view["transitions"]:
        if case.state in t["from"] or t["from_any"]:
            state_roles |= set(t["roles"] or ()) | set((t["approvals"] or {}).get("roles") or ())
    may_change = not case.closed and (
        not team or me.admin or case.assignee == me.actor or bool(state_roles & me.roles)
    )
    choices = sorted(name for name, roles in team.items() if not acting or acting & set(roles))
    return {
        "may_change": may_change,
        "choices": choices,
        # someone else's case is taken over only by an admin's force (the API's ?force=true)
        "can_claim": may_change
        and case.assignee != me.actor
        and (case.assignee is None or me.admin),
        "must_force": case.assignee is not None and case.assignee != me.actor,
    }


def _action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A dry run's action as the preview lists it: its kind and what it says."""
    kind = next(iter(action), "other")
    return {"kind": kind, "spec": action.get(kind), "raw": action}


__all__ = ["page_context", "preview_context", "read", "view_of"]
