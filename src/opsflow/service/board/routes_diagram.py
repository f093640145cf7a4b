"""``/cases/{id}/diagram``: the case's workflow drawn as SVG, its current state highlighted.

A fragment the case page loads with htmx when its diagram tab opens (a whole page when
opened directly). The drawing is the Mermaid text of ``GET /v1/workflows/{id}/graph?case=``
(``engine.graph``: the case's version, titles in the reader's language), laid out on the
server (``diagram_layout``): no script, and nothing the Content-Security-Policy refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from opsflow.errors import OpsflowError
from opsflow.language.text import localized
from opsflow.service.board import i18n
from opsflow.service.board.diagram_layout import Edge, Layout, layout, parse
from opsflow.service.board.pages import Looking, PageRoute, render
from opsflow.service.board.views import workflow_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class Drawing:
    """A case's diagram: the layout, and what the text around it says."""

    case: str
    workflow: str
    title: str
    current: str | None  # the current state's title
    layout: Layout
    steps: list[tuple[str, str, str]]  # (from, event, to) titles: the diagram as text
    anywhere: list[tuple[str, str]]  # (event, to) titles of the transitions from any state


@router.get("/cases/{case_id}/diagram")
async def diagram(request: Request, case_id: str, me: Looking) -> Response:
    """The diagram of the case's workflow, its current state highlighted."""
    engine = request.app.state.engine
    drawing = await run_in_threadpool(_drawing, engine, case_id, me.actor, me.locale)
    return render(
        request,
        "_diagram.html",
        me,
        drawing=drawing,
        full_page=not request.headers.get("hx-request"),
    )


def _drawing(engine: Any, case_id: str, actor: str, locale: str) -> Drawing:
    case = engine.status(case_id, actor=actor)  # NotFound when unreadable, as the API
    found = engine.graph(case.workflow, "mermaid", case_id=case.id, actor=actor, locale=locale)
    chart = parse(found.text)
    try:
        events = workflow_view(engine, case.workflow)["event_map"]
    except OpsflowError:  # the workflow's file is gone: the events by name
        events = {}
    words = i18n.translations(locale).gettext

    def state(name: str) -> str:
        return chart.titles.get(name, name)

    def event(edge: Edge) -> str:
        return localized(events.get(edge.event, {}).get("title"), locale) or edge.event

    def label(edge: Edge) -> str:
        marks = [_mark(flag, words) for flag in edge.flags]
        return " · ".join([event(edge), *marks])

    drawn = layout(chart, state, label)
    steps = [
        (state(e.source), label(e), state(e.target))
        for e in chart.edges
        if e not in drawn.collapsed
    ]
    anywhere = list(dict.fromkeys((label(e), state(e.target)) for e in drawn.collapsed))
    title = chart.title or case.workflow
    current = state(found.state) if found.state else None
    return Drawing(case.id, case.workflow, title, current, drawn, steps, anywhere)


def _mark(flag: str, _: Any) -> str:
    """A transition's mark in words: automatic, internal, or the approvals it needs."""
    if flag == "auto":
        return str(_("automatic"))
    if flag == "internal":
        return str(_("stays in the state"))
    need = flag.split(" ", 1)[0]
    return str(_("%(n)s approvals")) % {"n": need}


__all__ = ["router"]
