"""``/cases/{id}/history``: the case's audit trail as a timeline, with a verified-chain badge.

A fragment the case page loads with htmx (a whole page when opened directly). Newest first:
an operator opens a case to learn what just happened and why it is where it is, and the
latest entry says so; "Older entries" loads the page before (``?before=SEQ``) through the
same keyset call as ``GET /v1/cases/{id}/history`` (``after_seq`` and ``limit``: a case's
entries are numbered 1, 2, 3 …). The badge is ``audit.verify_one``: the case's hash chain
and its replay against the case row, as ``opsflow audit verify`` checks every case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from opsflow.core.decide import SYSTEM
from opsflow.core.results import AuditProblem, HistoryEntry
from opsflow.engine.audit import CaseChain, verify_one
from opsflow.errors import OpsflowError
from opsflow.service.board.pages import Looking, PageRoute, render
from opsflow.service.board.views import workflow_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 25  # entries shown at once; "Older entries" loads the page before


@dataclass(frozen=True)
class Change:
    """One field's change in an entry: its title, and the values before and after."""

    name: str
    title: Any  # text or {locale: text}
    before: Any
    after: Any


@dataclass(frozen=True)
class Line:
    """One history entry as the timeline shows it."""

    entry: HistoryEntry
    system: bool  # opsflow itself (a timer or an automatic step)
    event: Any  # the event's title (text or {locale: text}), or None
    before: Any  # the state's title before, or None
    after: Any  # the state's title after, or None
    changes: list[Change] = field(default_factory=list)
    voters: list[str] = field(default_factory=list)  # who approved, when it took all of them
    broken: bool = False  # the entry the chain check names


@dataclass(frozen=True)
class Timeline:
    """One page of the timeline, newest first."""

    case: str
    lines: list[Line]
    older: int | None  # the ``before`` of the page before this one, None on the first entry
    now: datetime
    names: dict[str, str]  # each person named in the entries: their display name
    chain: CaseChain | None = None  # checked on the timeline's first page


@router.get("/cases/{case_id}/history")
async def history(
    request: Request,
    case_id: str,
    me: Looking,
    before: Annotated[int | None, Query(ge=2)] = None,
) -> Response:
    """The case's history, newest first, from ``before`` (exclusive) if given."""
    engine = request.app.state.engine
    timeline = await run_in_threadpool(_timeline, engine, case_id, me.actor, before)
    more_only = before is not None and bool(request.headers.get("hx-request"))
    return render(
        request,
        "_history.html",
        me,
        timeline=timeline,
        full_page=not request.headers.get("hx-request"),
        more_only=more_only,
    )


def _timeline(engine: Any, case_id: str, actor: str, before: int | None) -> Timeline:
    """The page of entries before ``before`` (else the newest), with their titles."""
    chain: CaseChain | None = None
    if before is None:
        chain = verify_one(engine, case_id, actor)  # NotFound when unreadable, as the API
        full_id, workflow, last = chain.case, chain.workflow, chain.entries
        after = max(0, last - PAGE)
        entries = engine.history(full_id, after_seq=after, actor=actor)
    else:
        case = engine.status(case_id, actor=actor)
        full_id, workflow = case.id, case.workflow
        after = max(0, before - 1 - PAGE)
        entries = engine.history(full_id, after_seq=after, limit=before - 1 - after, actor=actor)
    view = _view_of(engine, workflow)
    problem = chain.problem if chain else None
    names = _names(engine, entries)
    lines = [_line(view, names, entry, problem) for entry in reversed(entries)]
    oldest = entries[0].seq if entries else 1
    older = oldest if oldest > 1 else None
    return Timeline(full_id, lines, older, engine.clock(), names, chain)


def _names(engine: Any, entries: list[HistoryEntry]) -> dict[str, str]:
    """The display name of everyone the entries name: who acted, was assigned or approved."""
    named: set[str] = set()
    for entry in entries:
        named.add(entry.actor)
        target, voters = entry.detail.get("to"), entry.detail.get("approvals")
        if isinstance(target, str):
            named.add(target)
        if isinstance(voters, list):
            named.update(str(v) for v in voters)
    people = engine.settings.people
    return {name: (people[name].display_name if name in people else None) or name for name in named}


def _view_of(engine: Any, workflow: str) -> dict[str, Any]:
    try:
        return workflow_view(engine, workflow)
    except OpsflowError:  # a workflow whose file is gone: its names as recorded
        return {"state_map": {}, "event_map": {}, "fields": []}


def _line(
    view: dict[str, Any], names: dict[str, str], entry: HistoryEntry, problem: AuditProblem | None
) -> Line:
    states, events = view["state_map"], view["event_map"]
    fields = {f["name"]: f for f in view["fields"]}

    def state(name: str | None) -> Any:
        return states.get(name, {}).get("title") or name if name else None

    voters = entry.detail.get("approvals")
    changes = [
        Change(
            name,
            fields.get(name, {}).get("title") or name,
            _moment(fields.get(name), c.get("from")),
            _moment(fields.get(name), c.get("to")),
        )
        for name, c in sorted(entry.data_changes.items())
        if isinstance(c, dict)
    ]
    return Line(
        entry=entry,
        system=entry.actor == SYSTEM,
        event=(events.get(entry.event, {}).get("title") or entry.event) if entry.event else None,
        before=state(entry.from_state),
        after=state(entry.to_state),
        changes=changes,
        voters=[names.get(str(v), str(v)) for v in voters] if isinstance(voters, list) else [],
        broken=problem is not None and problem.seq == entry.seq,
    )


def _moment(field: dict[str, Any] | None, value: Any) -> Any:
    """A datetime field's value as a time (the page shows it in the reader's format)."""
    if field is None or field.get("type") != "datetime" or not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return value


__all__ = ["router"]
