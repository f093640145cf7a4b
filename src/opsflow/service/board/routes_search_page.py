"""``/search``: the cases the viewer may read, by the filters of ``GET /v1/cases``.

Every filter lives in the URL (a GET form), so a search can be bookmarked and shared; pages
go on by the engine's ``next_cursor``. The search is ``Engine.search``, the call of
``GET /v1/cases``; a ``where`` (or another filter) the engine cannot run is shown beside
its field with the engine's message, on a 400 page. The results can be handed to a bulk
fire (``routes_bulk_page``): the cases ticked, or every case the filter finds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams

from opsflow.engine.search import MAX_LIMIT, MAX_Q, SORTS, SearchQuery
from opsflow.errors import InvalidQuery
from opsflow.numbers import plain_int
from opsflow.runners.bulk import search_query
from opsflow.service.board.pages import Looking, PageRoute, render
from opsflow.service.board.views import case_label, sla_chips, workflow_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 50  # cases a results page shows
MAX_TEXT = 200  # characters of a workflow, state or assignee filter
MAX_WHERE = 2000
MAX_STATES = 100
FILTERS = ("workflow", "state", "open", "assignee", "created_after", "created_before", "q", "where")


@dataclass
class Filter:
    """The search as the page's form gives it: text as typed, and what is wrong with it."""

    workflow: str = ""
    states: list[str] = field(default_factory=list)
    open: str = ""  # "", "true" (open) or "false" (closed)
    assignee: str = ""
    created_after: str = ""  # YYYY-MM-DD, as a date input sends it
    created_before: str = ""
    q: str = ""
    where: str = ""
    sort: str = "-created_at"
    limit: int = PAGE  # cases a page shows
    errors: dict[str, str] = field(default_factory=dict)  # field -> message

    def pairs(self) -> list[tuple[str, str]]:
        """The filter as URL parameters (empty ones left out), for links and hidden fields."""
        out: list[tuple[str, str]] = []
        for name in ("workflow", "open", "assignee", "created_after", "created_before", "q"):
            if value := getattr(self, name):
                out.append((name, value))
        out += [("state", s) for s in self.states]
        if self.where:
            out.append(("where", self.where))
        if self.sort != "-created_at":
            out.append(("sort", self.sort))
        if self.limit != PAGE:
            out.append(("limit", str(self.limit)))
        return out

    def url(self, path: str = "/search", **more: str) -> str:
        return f"{path}?{urlencode(self.pairs() + list(more.items()))}"

    @property
    def given(self) -> bool:
        return any(getattr(self, name) for name in FILTERS[:1] + FILTERS[2:]) or bool(self.states)

    def query(self, limit: int | None = None, cursor: str | None = None) -> SearchQuery:
        """The engine's search (the bulk API's ``filter``, with the creation dates)."""
        found = search_query(
            workflow=self.workflow or None,
            states=self.states,
            where=self.where or None,
            q=self.q or None,
            assignee=self.assignee or None,
            open={"true": True, "false": False}.get(self.open),
        )
        return replace(
            found,
            created_after=_day(self.created_after),
            created_before=_day(self.created_before),
            sort=self.sort,
            limit=limit or self.limit,
            cursor=cursor,
        )


def read_filter(params: QueryParams | FormData) -> Filter:
    """The filter a search URL or a bulk form gives, checked as the API checks its query."""
    found = Filter()
    for name in ("workflow", "assignee", "q", "where", "created_after", "created_before"):
        value = str(params.get(name) or "").strip()
        limit = MAX_WHERE if name == "where" else MAX_Q if name == "q" else MAX_TEXT
        if len(value) > limit:
            found.errors[name] = f"at most {limit} characters"
            value = value[:limit]
        setattr(found, name, value)
    found.states = [str(s)[:MAX_TEXT] for s in params.getlist("state") if s][:MAX_STATES]
    opened = str(params.get("open") or "")
    found.open = opened if opened in ("true", "false") else ""
    sort = str(params.get("sort") or "-created_at")
    found.sort = sort if sort in SORTS else "-created_at"
    size = plain_int(str(params.get("limit") or ""))
    found.limit = size if size is not None and 1 <= size <= MAX_LIMIT else PAGE
    for name in ("created_after", "created_before"):
        value = getattr(found, name)
        if value and name not in found.errors:
            try:
                date.fromisoformat(value)
            except ValueError:
                found.errors[name] = "not a date (YYYY-MM-DD)"
    return found


def _day(text: str) -> datetime | None:
    """The start of a day that a date field gives (naive: the search reads it in the
    project's time zone), or None when empty."""
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time())
    except ValueError:
        return None


def choices(engine: Any, workflow: str) -> dict[str, Any]:
    """The workflows to choose from, and the states (and events) of the chosen one (of
    every workflow when none is chosen), in the order their files give them."""
    views = [workflow_view(engine, wid) for wid in engine.definitions.ids()]
    shown = [v for v in views if v["id"] == workflow] or views
    states: dict[str, Any] = {}
    events: dict[str, Any] = {}
    for view in shown:
        for state in view["states"]:
            states.setdefault(state["name"], state)
        for transition in view["transitions"]:
            if transition["person"]:
                events.setdefault(transition["event"], transition)
    return {"workflows": views, "states": list(states.values()), "events": list(events.values())}


@router.get("/search")
async def search(request: Request, me: Looking) -> Response:
    """The search page: its form, and a page of results when a filter is given."""
    engine = request.app.state.engine
    chosen = read_filter(request.query_params)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > 400:
        cursor = None
    found = await run_in_threadpool(_results, engine, chosen, me.actor, cursor)
    status = 400 if chosen.errors else 200
    return render(
        request,
        "search.html",
        me,
        status=status,
        f=chosen,
        cursor=cursor,
        sorts=SORTS,
        chosen_event=None,
        comment=None,
        data_text=None,
        data_error=None,
        **choices(engine, chosen.workflow),
        **found,
    )


def _results(engine: Any, chosen: Filter, actor: str, cursor: str | None) -> dict[str, Any]:
    """A page of results (none while the form has errors), each row ready to show."""
    if chosen.errors:
        return {"rows": [], "next_cursor": None, "searched": False, "now": engine.clock()}
    try:
        page = engine.search(chosen.query(chosen.limit, cursor), actor=actor)
    except InvalidQuery as exc:
        message = "; ".join([exc.message, *exc.reasons])
        where = "where" if chosen.where else "cursor" if cursor else "form"
        chosen.errors[where] = message
        return {"rows": [], "next_cursor": None, "searched": False, "now": engine.clock()}
    now = engine.clock()
    rows = []
    for case in page.items:
        view = workflow_view(engine, case.workflow)
        rows.append(
            {
                "case": case,
                "label": case_label(case, view),
                "view": view,
                "state": view["state_map"].get(case.state, {"title": None}),
                "chips": sla_chips(case, now, engine.settings.calendars),
            }
        )
    return {"rows": rows, "next_cursor": page.next_cursor, "searched": True, "now": now}


__all__ = ["Filter", "choices", "read_filter", "router"]
