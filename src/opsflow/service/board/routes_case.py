"""``/cases/{id}``: one case — its data as a form, every event with why it is blocked, a
dry-run preview, approvals, deadlines, metrics with their evidence, and its assignee.

Every change is the API's own engine call (``routes_cases``): ``set`` for the data (PATCH
/v1/cases/{id}/data), ``fire`` and its dry run, ``compute``, ``assign``/``claim``/
``unassign``, each with the row version the page showed (the API's ``If-Match``), so a
page left open while someone else moved the case changes nothing. A refusal re-renders the
page with its reasons beside what it is about, with the API's status (htmx: 200, so the
answer is swapped in); a change that worked goes back to the page (303, or the page
itself for htmx). The history and the diagram are other routes' fragments, loaded lazily.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from opsflow.config import project_zone
from opsflow.core.results import Case, FireResult
from opsflow.errors import Invalid, NotFound, OpsflowError, PreconditionFailed
from opsflow.numbers import plain_int
from opsflow.service.board import case_facts, forms
from opsflow.service.board.pages import NO_STORE, Looking, PageRoute, Viewer, render
from opsflow.service.routes_cases import MAX_COMMENT

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CaseId = Annotated[str, Path(min_length=1, max_length=64)]
NOTES = frozenset(
    {
        "started",
        "saved",
        "unchanged",
        "fired",
        "approved",
        "assigned",
        "claimed",
        "unassigned",
        "computed",
    }
)


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: CaseId, me: Looking) -> Response:
    """The case page (404, as the API, for a case missing or not readable by the viewer)."""
    note = request.query_params.get("note")
    return await _page(request, me, case_id, note=note if note in NOTES else None)


@router.post("/cases/{case_id}/data")
async def save_data(request: Request, case_id: CaseId, me: Looking) -> Response:
    """Save the data form: only the values that differ from what the page showed."""
    form = await request.form()
    engine = request.app.state.engine

    def save() -> dict[str, Any]:
        case = engine.status(case_id, actor=me.actor)
        view = case_facts.view_of(engine, case)
        typed = forms.typed_values(form, view)
        changed = forms.changed_text(view, case.data, typed, project_zone(engine.settings))
        if not changed:
            return {"note": "unchanged"}
        try:
            engine.set(
                case.id,
                text=changed,
                actor=me.actor,
                comment=_comment(form),
                expected_version=_version(form),
            )
        except NotFound:
            raise
        except PreconditionFailed as exc:
            return {"error": exc, "where": "data", "stale": True}
        except OpsflowError as exc:
            names = [spec["name"] for spec in view["fields"]]
            by_field, general = forms.problems_by_field(exc.reasons, names)
            if isinstance(exc, Invalid) and not exc.reasons:
                general = [exc.message]
            return {
                "error": exc,
                "where": "data",
                "problems": by_field,
                "general": general,
                "typed": typed,
            }
        return {"note": "saved"}

    return await _after(request, me, case_id, await run_in_threadpool(save))


@router.post("/cases/{case_id}/fire")
async def fire(request: Request, case_id: CaseId, me: Looking) -> Response:
    """Fire the event whose button was pressed, with the comment box's text."""
    form = await request.form()
    event = _text(form, "event", 200)
    engine = request.app.state.engine

    def run() -> dict[str, Any]:
        try:
            result: FireResult = engine.fire(
                case_id,
                event,
                actor=me.actor,
                comment=_comment(form),
                expected_version=_version(form),
            )
        except NotFound as exc:
            if "event" in exc.message:  # an event the workflow does not have
                return {"error": exc, "where": "events", "event": event}
            raise
        except OpsflowError as exc:
            stale = isinstance(exc, PreconditionFailed)
            return {"error": exc, "where": "events", "event": event, "stale": stale}
        note = "approved" if result.outcome == "approval_recorded" else "fired"
        return {"note": note, "fired": result, "event": event}

    return await _after(request, me, case_id, await run_in_threadpool(run))


@router.post("/cases/{case_id}/preview")
async def preview(request: Request, case_id: CaseId, me: Looking) -> Response:
    """What firing the event would do (the API's ``dry_run``): nothing is written."""
    form = await request.form()
    event = _text(form, "event", 200)
    engine = request.app.state.engine

    def run() -> tuple[dict[str, Any], dict[str, Any]]:
        case: Case = engine.status(case_id, actor=me.actor)  # NotFound: the 404 page
        outcome: dict[str, Any] = {"event": event}
        try:
            outcome["result"] = engine.fire(
                case.id, event, actor=me.actor, comment=_comment(form), dry_run=True
            )
        except OpsflowError as exc:  # an unknown event too: the case was found above
            outcome["error"] = exc
        return case_facts.view_of(engine, case), outcome

    view, outcome = await run_in_threadpool(run)
    if request.headers.get("hx-request"):
        return render(
            request, "case_preview.html", me, p=case_facts.preview_context(view, **outcome)
        )
    return await _page(request, me, case_id, preview=outcome)


@router.post("/cases/{case_id}/compute")
async def compute(request: Request, case_id: CaseId, me: Looking) -> Response:
    """Run the case's calculators now (``POST /v1/cases/{id}/compute``)."""
    engine = request.app.state.engine

    def run() -> dict[str, Any]:
        try:
            engine.compute(case_id, None, actor=me.actor)
        except NotFound as exc:
            if "metric" in exc.message:
                return {"error": exc, "where": "metrics"}
            raise
        except OpsflowError as exc:
            return {"error": exc, "where": "metrics"}
        return {"note": "computed"}

    return await _after(request, me, case_id, await run_in_threadpool(run))


@router.post("/cases/{case_id}/assignee")
async def assignee(request: Request, case_id: CaseId, me: Looking) -> Response:
    """Assign (``name``), claim (``claim``, ``force`` for an admin) or unassign the case."""
    form = await request.form()
    action = _text(form, "action", 20)
    name = _text(form, "name", 200)
    engine = request.app.state.engine

    def run() -> dict[str, Any]:
        version = _version(form)
        try:
            if action == "claim":
                force = _text(form, "force", 10) == "true"
                engine.claim(case_id, actor=me.actor, force=force, expected_version=version)
                return {"note": "claimed"}
            if action == "unassign":
                engine.unassign(case_id, actor=me.actor, expected_version=version)
                return {"note": "unassigned"}
            engine.assign(case_id, name, actor=me.actor, expected_version=version)
            return {"note": "assigned"}
        except NotFound:
            raise
        except OpsflowError as exc:
            stale = isinstance(exc, PreconditionFailed)
            return {"error": exc, "where": "assignee", "stale": stale}

    return await _after(request, me, case_id, await run_in_threadpool(run))


# -- answering ---------------------------------------------------------------------------


async def _after(request: Request, me: Viewer, case_id: str, outcome: dict[str, Any]) -> Response:
    """The answer to a change: the page again (htmx, or a refusal), else back to it (303)."""
    error: OpsflowError | None = outcome.get("error")
    htmx = bool(request.headers.get("hx-request"))
    if error is None and not htmx:
        target = f"/cases/{case_id}?note={outcome['note']}"
        return RedirectResponse(target, status_code=303, headers=NO_STORE)
    status = 200 if htmx or error is None else error.http_status
    return await _page(request, me, case_id, status=status, outcome=outcome)


async def _page(
    request: Request,
    me: Viewer,
    case_id: str,
    status: int = 200,
    outcome: dict[str, Any] | None = None,
    note: str | None = None,
    preview: dict[str, Any] | None = None,
) -> Response:
    engine = request.app.state.engine
    facts = await run_in_threadpool(case_facts.read, engine, case_id, me)
    context = case_facts.page_context(facts, me, outcome or {}, note)
    if preview is not None:
        context["preview"] = case_facts.preview_context(facts["view"], **preview)
    return render(request, "case.html", me, status=status, **context)


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _comment(form: FormData) -> str | None:
    """The comment box's text (Invalid past the API's limit, as the API refuses it)."""
    text = _text(form, "comment", MAX_COMMENT + 1).strip()
    if len(text) > MAX_COMMENT:
        raise Invalid(
            "the comment is too long", [f"a comment holds at most {MAX_COMMENT:,} characters"]
        )
    return text or None


def _version(form: FormData) -> int | None:
    """The row version the page showed (the API's ``If-Match``); None when not sent.

    A value that is not a version (``abc``, ``²``, too long) matches none: -1, refused as
    stale, as the API refuses such an ``If-Match``.
    """
    text = _text(form, "row_version", 20).strip()
    if not text:
        return None
    version = plain_int(text)
    return -1 if version is None else version


__all__ = ["router"]
