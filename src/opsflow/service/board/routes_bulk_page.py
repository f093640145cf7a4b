"""``/bulk``: one event fired on many cases, from the search page: preview, then apply.

The cases are the ones ticked in the search results, or every case the search's filter
finds. "Preview" is ``Engine.bulk_fire(dry_run=True)`` and writes nothing; "Apply" is the
same call for real; both are the calls of ``POST /v1/bulk/events`` (each case its own step,
one refusal does not stop the others). A selection the engine refuses as a whole (more
than 10,000 cases, a filter it cannot run) is shown with the engine's message.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from opsflow.errors import OpsflowError
from opsflow.runners.bulk import MAX_CASES, STATUSES, BulkResult
from opsflow.service.board.pages import Looking, PageRoute, render
from opsflow.service.board.routes_search_page import Filter, choices, read_filter
from opsflow.service.board.views import case_label, workflow_view

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MAX_DATA = 10_000  # characters of the data box
MAX_COMMENT = 2000
LABELS = 200  # results shown with their case's label (one read each); the rest by id
MAX_FIELDS = MAX_CASES + 100  # a form may tick more cases than the engine takes: it says so


@router.get("/bulk")
async def bulk_form(request: Request, me: Looking) -> Response:
    """The bulk form for the search in the URL (every case it finds)."""
    engine = request.app.state.engine
    chosen = read_filter(request.query_params)
    asked: dict[str, Any] = {"scope": "filter", "cases": [], "event": None, "comment": ""}
    asked["data_text"] = ""
    return _page(request, me, engine, chosen, asked, status=400 if chosen.errors else 200)


@router.post("/bulk/preview")
async def preview(request: Request, me: Looking) -> Response:
    """What the event would do to each case: a dry run, nothing written."""
    return await _run(request, me, dry_run=True)


@router.post("/bulk/apply")
async def apply(request: Request, me: Looking) -> Response:
    """Fire the event on each case; each case's outcome or refusal, and the counts."""
    return await _run(request, me, dry_run=False)


async def _run(request: Request, me: Any, dry_run: bool) -> Response:
    engine = request.app.state.engine
    form = await request.form(max_fields=MAX_FIELDS)
    chosen = read_filter(form)
    asked = _asked(form)
    if chosen.errors or asked["errors"]:
        return _page(request, me, engine, chosen, asked, status=400)
    try:
        result = await run_in_threadpool(_fire, engine, chosen, asked, me.actor, dry_run)
    except OpsflowError as exc:  # refused as a whole: nothing was done
        refusal = {"message": exc.message, "reasons": list(exc.reasons)}
        return _page(request, me, engine, chosen, asked, status=exc.http_status, refusal=refusal)
    return _page(request, me, engine, chosen, asked, result=result)


def _asked(form: FormData) -> dict[str, Any]:
    """The bulk fire the form asks for: scope, cases, event, comment, data (as typed)."""
    errors: dict[str, str] = {}
    scope = "filter" if form.get("scope") == "filter" else "selected"
    cases = list(dict.fromkeys(str(c)[:200] for c in form.getlist("case") if c))
    event = str(form.get("event") or "").strip()[:200]
    comment = str(form.get("comment") or "").strip()
    data_text = str(form.get("data") or "")
    if not event:
        errors["event"] = "choose an event"
    if scope == "selected" and not cases:
        errors["cases"] = "no case ticked"
    if len(comment) > MAX_COMMENT:
        errors["comment"] = f"at most {MAX_COMMENT} characters"
    text: dict[str, str] = {}
    if len(data_text) > MAX_DATA:
        errors["data"] = f"at most {MAX_DATA} characters"
    else:
        for number, line in enumerate(data_text.splitlines(), start=1):
            if not line.strip():
                continue
            name, sign, value = line.partition("=")
            if not sign or not name.strip():
                errors["data"] = f"line {number}: write field = value"
                break
            text[name.strip()] = value.strip()
    return {
        "scope": scope,
        "cases": cases,
        "event": event,
        "comment": comment,
        "data_text": data_text,
        "text": text,
        "errors": errors,
    }


def _fire(
    engine: Any, chosen: Filter, asked: dict[str, Any], actor: str, dry_run: bool
) -> BulkResult:
    """``Engine.bulk_fire`` on the ticked cases or the filter's, as the API calls it."""
    selected = asked["scope"] == "selected"
    result: BulkResult = engine.bulk_fire(
        asked["event"],
        cases=asked["cases"] if selected else None,
        query=None if selected else chosen.query(),
        text=asked["text"] or None,
        comment=asked["comment"] or None,
        dry_run=dry_run,
        actor=actor,
    )
    return result


def _page(
    request: Request,
    me: Any,
    engine: Any,
    chosen: Filter,
    asked: dict[str, Any],
    status: int = 200,
    result: BulkResult | None = None,
    refusal: dict[str, Any] | None = None,
) -> Response:
    listed = _items(engine, result, me.actor) if result is not None else []
    return render(
        request,
        "bulk.html",
        me,
        status=status,
        f=chosen,
        asked=asked,
        chosen_event=asked["event"],
        comment=asked["comment"],
        data_text=asked["data_text"],
        data_error=asked.get("errors", {}).get("data"),
        result=result,
        items=listed,
        statuses=STATUSES,
        refusal=refusal,
        **choices(engine, chosen.workflow),
    )


def _items(engine: Any, result: BulkResult, actor: str) -> list[dict[str, Any]]:
    """Each case's outcome, with its states' titles and (the first cases') labels."""
    workflows = {wid: workflow_view(engine, wid) for wid in engine.definitions.ids()}
    titles: dict[str, Any] = {}
    for view in workflows.values():
        for state in view["states"]:
            titles.setdefault(state["name"], state["title"])
    out = []
    for number, item in enumerate(result.items):
        label = _label(engine, item.case, actor) if number < LABELS else None
        would = item.would or {}
        to = would.get("to") or item.state
        out.append(
            {
                "item": item,
                "from": item.from_state,
                "from_title": titles.get(item.from_state or ""),
                "to": to,
                "to_title": titles.get(to or ""),
                "label": label,
            }
        )
    return out


def _label(engine: Any, case_id: str, actor: str) -> str | None:
    """A case's label as its card shows it, read as ``actor`` (None: not readable)."""
    try:
        case = engine.status(case_id, actor=actor)
    except OpsflowError:
        return None
    return case_label(case, workflow_view(engine, case.workflow))


__all__ = ["router"]
