"""``/start``: start a case from a form (the API's ``POST /v1/cases``).

The workflows offered are the current ones the viewer may read (a workflow's ``readers:``,
admins read all); any team member may start a case, as the API lets them. The form is the
workflow's fields (``forms``), sent to the engine as typed text; a refusal shows the form
again with each problem beside its field (422, nothing written), a start goes to the new
case's page (303).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsflow.config import project_zone
from opsflow.errors import NotFound, OpsflowError
from opsflow.service.board import forms
from opsflow.service.board.pages import NO_STORE, Looking, PageRoute, Viewer, render
from opsflow.service.board.views import workflow_view
from opsflow.service.routes_cases import MAX_COMMENT

router = APIRouter(route_class=PageRoute, include_in_schema=False)
WorkflowId = Annotated[str | None, Query(max_length=200)]


@router.get("/start")
async def start_page(request: Request, me: Looking, workflow: WorkflowId = None) -> Response:
    """The workflows to start a case of, and the chosen one's form."""
    engine = request.app.state.engine
    offered = await run_in_threadpool(_offered, engine, me)
    chosen = _chosen(offered, workflow)
    if workflow and chosen is None:
        raise NotFound(f"no workflow '{workflow}'")
    return _form_page(request, me, offered, chosen)


@router.post("/start")
async def start_case(request: Request, me: Looking) -> Response:
    """Start a case of the chosen workflow with the form's values and comment."""
    form = await request.form()
    engine = request.app.state.engine
    offered = await run_in_threadpool(_offered, engine, me)
    asked = form.get("workflow")
    chosen = _chosen(offered, asked if isinstance(asked, str) else None)
    if chosen is None:
        raise NotFound(f"no workflow '{str(asked or '')[:200]}'")
    typed = forms.typed_values(form, chosen)
    comment_value = form.get("comment")
    comment = comment_value.strip()[: MAX_COMMENT + 1] if isinstance(comment_value, str) else ""
    if len(comment) > MAX_COMMENT:
        general = [f"a comment holds at most {MAX_COMMENT:,} characters"]
        return _form_page(request, me, offered, chosen, typed, {}, general, comment, 422)
    text = {name: value for name, value in typed.items() if value.strip()}

    def start() -> Any:
        return engine.start(chosen["id"], text=text, actor=me.actor, comment=comment or None)

    try:
        case = await run_in_threadpool(start)
    except NotFound:
        raise
    except OpsflowError as exc:
        names = [spec["name"] for spec in chosen["fields"]]
        by_field, general = forms.problems_by_field(exc.reasons, names)
        if not exc.reasons:
            general = [exc.message]
        status = exc.http_status
        return _form_page(request, me, offered, chosen, typed, by_field, general, comment, status)
    return RedirectResponse(f"/cases/{case.id}?note=started", status_code=303, headers=NO_STORE)


def _offered(engine: Any, me: Viewer) -> list[dict[str, Any]]:
    """The current workflows ``me`` may read, as ``GET /v1/workflows/{id}`` describes them."""
    out = []
    for wid in engine.definitions.ids():
        try:
            view = workflow_view(engine, wid)
        except OpsflowError:  # a workflow file with errors: nothing to start
            continue
        readers = view.get("readers")
        if readers is None or me.admin or set(readers) & me.roles:
            out.append(view)
    return out


def _chosen(offered: list[dict[str, Any]], workflow: str | None) -> dict[str, Any] | None:
    if workflow:
        return next((view for view in offered if view["id"] == workflow), None)
    return offered[0] if len(offered) == 1 else None


def _form_page(
    request: Request,
    me: Viewer,
    offered: list[dict[str, Any]],
    chosen: dict[str, Any] | None,
    typed: dict[str, str] | None = None,
    problems: dict[str, forms.Problem] | None = None,
    general: list[str] | None = None,
    comment: str = "",
    status: int = 200,
) -> Response:
    defaults = {f["name"]: f["default"] for f in chosen["fields"]} if chosen else {}
    zone = project_zone(request.app.state.engine.settings)
    fields = forms.form_fields(chosen, defaults, problems, typed, zone) if chosen else []
    return render(
        request,
        "start.html",
        me,
        status=status,
        offered=offered,
        chosen=chosen,
        fields=fields,
        general=general or [],
        refused=bool(problems or general),
        comment=comment,
    )


__all__ = ["router"]
