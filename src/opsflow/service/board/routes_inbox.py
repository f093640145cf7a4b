"""``/inbox``: the cases where I can act now, grouped by workflow, with SLA chips.

The same engine call as ``GET /v1/inbox`` (one keyset page); "mine" keeps the cases
assigned to me, "all" every case I can act on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from opsflow.service.board.pages import Looking, PageRoute, render
from opsflow.service.board.views import case_label, sla_chips, workflow_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 50


@router.get("/inbox")
async def inbox(
    request: Request,
    me: Looking,
    mine: bool = False,
    cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Response:
    """My inbox page (``?mine=true``: only the cases assigned to me)."""
    engine = request.app.state.engine
    groups = await run_in_threadpool(_groups, engine, me.actor, mine, cursor)
    return render(request, "inbox.html", me, mine=mine, cursor=cursor, **groups)


def _groups(engine: Any, actor: str, mine: bool, cursor: str | None) -> dict[str, Any]:
    page = engine.inbox(actor, limit=PAGE, cursor=cursor, mine=mine)
    now = engine.clock()
    grouped: dict[str, dict[str, Any]] = {}
    for case in page:
        view = workflow_view(engine, case.workflow)
        group = grouped.setdefault(case.workflow, {"view": view, "items": []})
        group["items"].append(
            {
                "case": case,
                "label": case_label(case, view),
                "state": view["state_map"].get(case.state, {}),
                "events": [
                    view["event_map"].get(e.event, {"event": e.event})
                    for e in case.events
                    if e.allowed
                ],
                "chips": sla_chips(case, now, engine.settings.calendars),
            }
        )
    return {"groups": list(grouped.values()), "next_cursor": page.next_cursor, "now": now}


__all__ = ["router"]
