"""``/board/{workflow}``: one column per state with its count and newest cards; moving a
card fires the one event that leads to the target column, when the viewer may fire it.

The columns come from :func:`opsflow.engine.board_columns.board` (a grouped count and the
newest cards per state, each with its moves decided as a fire decides); a move is decided
again on the server for the one case (:func:`~opsflow.engine.board_columns.card`) and then
fired through ``Engine.fire``, the call of ``POST /v1/cases/{id}/events/{event}``, at the
row version just decided on. Drag and drop (``kanban.js``) and the card's "Move to" form
post the same form; with htmx or the script, the answer is the board's fragment.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsflow.engine import board_columns
from opsflow.errors import NotFound, OpsflowError
from opsflow.service.board.pages import NO_STORE, Looking, PageRoute, render
from opsflow.service.board.views import case_label, sla_chips, workflow_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_COLUMN = 25  # cards a column shows; the rest are a search away
Name = Annotated[str, Form(min_length=1, max_length=200)]


@router.get("/board/{workflow}")
async def kanban(request: Request, me: Looking, workflow: str) -> Response:
    """The board of ``workflow`` (404 for a workflow that does not exist)."""
    engine = request.app.state.engine
    board = await run_in_threadpool(_board, engine, workflow, me.actor)
    done = _done_from(request, board["view"])
    return render(request, "kanban.html", me, done=done, refused=None, **board)


@router.post("/board/{workflow}/move")
async def move(
    request: Request,
    me: Looking,
    workflow: str,
    case: Name,
    to: Name,
    comment: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Move ``case`` to the column of state ``to``: fire the one event that leads there."""
    engine = request.app.state.engine
    outcome = await run_in_threadpool(_move, engine, workflow, case, to, me.actor, comment)
    partial = bool(request.headers.get("hx-request"))
    if "refused" not in outcome and not partial:  # post, redirect, get: a reload fires nothing
        return RedirectResponse(
            f"/board/{workflow}?{urlencode(outcome['done'])}", status_code=303, headers=NO_STORE
        )
    board = await run_in_threadpool(_board, engine, workflow, me.actor)
    status = 409 if "refused" in outcome and not partial else 200  # htmx swaps 2xx only
    return render(
        request,
        "kanban_columns.html" if partial else "kanban.html",
        me,
        status=status,
        done=outcome.get("done"),
        refused=outcome.get("refused"),
        **board,
    )


def _board(engine: Any, workflow: str, actor: str) -> dict[str, Any]:
    """The page's columns: the workflow's states in order (open ones first, then final)."""
    view = workflow_view(engine, workflow)  # NotFound for an unknown workflow
    found = {c.state: c for c in board_columns.board(engine, workflow, actor, PER_COLUMN)}
    states = view["states"]
    ordered = [s["name"] for s in states if not s["final"]]
    ordered += [s["name"] for s in states if s["final"]]
    ordered += sorted(set(found) - set(ordered))  # states of older versions only
    now = engine.clock()
    calendars = engine.settings.calendars
    columns = []
    for state in ordered:
        column = found.get(state) or board_columns.Column(state, 0)
        info = view["state_map"].get(state, {"name": state, "title": None, "final": False})
        columns.append(
            {
                "state": state,
                "info": info,
                "count": column.count,
                "more": column.count - len(column.cards),
                "search": "/search?"
                + urlencode({"workflow": workflow, "state": state, "sort": "-updated_at"}),
                "cards": [_card(c, view, ordered, now, calendars) for c in column.cards],
            }
        )
    return {"view": view, "columns": columns, "workflow": workflow, "now": now}


def _card(
    card: board_columns.Card, view: dict[str, Any], order: list[str], now: Any, calendars: Any
) -> Any:
    case = card.case
    moves = sorted(card.moves.values(), key=lambda m: order.index(m.to) if m.to in order else 99)
    return {
        "case": case,
        "label": case_label(case, view),
        "chips": sla_chips(case, now, calendars),
        "moves": moves,
        "allowed": [m.to for m in moves if m.allowed],
    }


def _move(
    engine: Any, workflow: str, case_id: str, to: str, actor: str, comment: str | None
) -> dict[str, Any]:
    """Decide the move for this one case, then fire its event; what happened, as words."""
    view = workflow_view(engine, workflow)
    found = board_columns.card(engine, case_id, actor)  # NotFound for an unreadable case
    case = found.case
    if case.workflow != workflow:
        raise NotFound(f"case {case.id} is not a case of workflow '{workflow}'")
    label = case_label(case, view)
    chosen = found.moves.get(to)
    if chosen is None or not chosen.allowed or chosen.event is None:
        reasons = list(chosen.reasons) if chosen else []
        return _refused(case, label, to, reasons)
    try:
        result = engine.fire(
            case.id,
            chosen.event,
            actor=actor,
            comment=comment or None,
            expected_version=case.row_version,  # the version the move was decided on
        )
    except OpsflowError as exc:
        return _refused(case, label, to, [exc.message, *exc.reasons])
    done = {"moved": case.id, "event": chosen.event, "state": result.case.state}
    if result.approvals is not None:
        done.update(have=str(result.approvals[0]), need=str(result.approvals[1]))
    return {"done": done}


def _refused(case: Any, label: str, to: str, reasons: list[str]) -> dict[str, Any]:
    refused = {"case": case.id, "label": label, "to": to, "from": case.state, "reasons": reasons}
    return {"refused": refused}


def _done_from(request: Request, view: dict[str, Any]) -> dict[str, str] | None:
    """The last move's outcome, as the redirect after a plain form's post gives it."""
    asked = request.query_params
    if not asked.get("moved") or not asked.get("event") or not asked.get("state"):
        return None
    found = {k: asked[k][:200] for k in ("moved", "event", "state", "have", "need") if k in asked}
    return found if found["event"] in view["event_map"] else None


__all__ = ["router"]
