"""``/board``: the workflows, each with its open cases (those I may read) and its board.

The same engine call as ``GET /v1/workflows``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from opsflow.service.board.pages import Looking, PageRoute, render
from opsflow.service.board.views import workflow_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/board")
async def boards(request: Request, me: Looking) -> Response:
    """Every workflow with its open cases, linking to its board and to starting a case."""
    engine = request.app.state.engine
    summaries = await run_in_threadpool(engine.workflows, me.actor)
    workflows = [
        {"summary": s, "view": workflow_view(engine, s.id)}
        for s in sorted(summaries, key=lambda s: s.id)
    ]
    return render(request, "boards.html", me, workflows=workflows)


__all__ = ["router"]
