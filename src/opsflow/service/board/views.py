"""What pages show of workflows and cases: titles, a case's label, SLA chips.

Presentation only: every fact comes from the engine (a case as ``status`` or a listing gives
it, a workflow as ``GET /v1/workflows/{id}`` describes it); nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from opsflow.core.calendar import time_left
from opsflow.core.results import Case, DeadlineView
from opsflow.core.workflow_view import describe as describe_workflow

if TYPE_CHECKING:
    from opsflow.calendars import Calendar

AMBER = 0.25  # an SLA chip turns amber when less than this share of its time is left
MAX_VIEWS = 256
_VIEWS: dict[int, tuple[Any, dict[str, Any]]] = {}


def workflow_view(engine: Any, workflow: str) -> dict[str, Any]:
    """The current version of ``workflow`` as ``GET /v1/workflows/{id}`` describes it
    (without its case counts), made once per loaded definition."""
    compiled = engine.definitions.current(workflow)
    cached = _VIEWS.get(id(compiled))
    if cached is not None and cached[0] is compiled:
        return cached[1]
    view = describe_workflow(compiled)
    view["state_map"] = {state["name"]: state for state in view["states"]}
    view["event_map"] = {t["event"]: t for t in view["transitions"]}
    view["label_field"] = next(
        (f["name"] for f in view["fields"] if f["type"] in ("string", "text")), None
    )
    if len(_VIEWS) > MAX_VIEWS:
        _VIEWS.clear()
    _VIEWS[id(compiled)] = (compiled, view)  # the definition kept: its id stays its own
    return view


def case_label(case: Case, view: dict[str, Any]) -> str:
    """A case's name on a card: its first text field's value, else its id."""
    field = view.get("label_field")
    value = case.data.get(field) if field else None
    return value if isinstance(value, str) and value.strip() else case.id


@dataclass(frozen=True)
class Chip:
    """An SLA chip: when the deadline falls, and how urgent it looks."""

    due_at: datetime
    tone: str  # "ok", "amber" (under a quarter of the time left), "red" (overdue)
    overdue: bool
    event: str
    working_left: timedelta | None = None  # on a business calendar: the working time left


def sla_chips(
    case: Case, now: datetime, calendars: Mapping[str, Calendar] | None = None
) -> list[Chip]:
    """The case's pending SLA deadlines, soonest first, each with its tone."""
    chips = []
    for deadline in sorted(case.deadlines, key=lambda d: d.due_at):
        if deadline.kind == "sla" and deadline.status == "pending":
            chips.append(deadline_chip(deadline, case.entered_at, now, calendars))
    return chips


def deadline_chip(
    deadline: DeadlineView,
    since: datetime,
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> Chip:
    """A deadline's chip; one counted on a business calendar is judged in working time
    (a Friday-evening SLA due Monday noon has most of its time left over the weekend)."""
    calendar = (calendars or {}).get(deadline.calendar) if deadline.calendar else None
    whole = time_left(calendar, since, deadline.due_at).total_seconds()
    left = time_left(calendar, now, deadline.due_at)
    seconds = left.total_seconds()
    overdue = deadline.due_at < now
    if overdue:
        tone = "red"
    elif whole > 0 and seconds / whole < AMBER:
        tone = "amber"
    else:
        tone = "ok"
    return Chip(deadline.due_at, tone, overdue, deadline.event, left if calendar else None)


__all__ = ["Chip", "case_label", "deadline_chip", "sla_chips", "workflow_view"]
