"""``/admin``: failed notifications, incidents and the audit chains, for admins.

The same engine calls as ``/v1/outbox``, ``/v1/audit/verify`` and ``opsflow incidents``,
under the same rule (``require_admin``: 403 for anyone else, before anything is read or
done). A change is a form post with the session's CSRF token, answered with a redirect
to its list (``?retried=…``), so a reload does not repeat it. The tokens page is
``routes_admin_tokens``: every person manages their own tokens there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from opsflow.engine.access import require_admin
from opsflow.errors import NotFound, Refused, Usage
from opsflow.service.board.pages import NO_STORE, Looking, PageRoute, Viewer, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 50  # failed notifications per page (the API's default page)
INCIDENTS = 100  # unresolved incidents shown, newest first
PROBLEMS = 200  # audit problems listed (the count says how many there are)
Cursor = Annotated[str | None, Query(min_length=1, max_length=100)]
Count = Annotated[int | None, Query(ge=0, le=10_000)]
RowId = Annotated[int | None, Query(ge=1)]


def admin_engine(request: Request, me: Viewer, doing: str) -> Any:
    """The engine, when ``me`` is an admin (NotPermitted, a 403 page, otherwise)."""
    engine = request.app.state.engine
    require_admin(engine, me.actor, doing)
    return engine


def back_to(path: str) -> Response:
    """After a change: to the page that shows it (a reload does not repeat the change)."""
    return RedirectResponse(path, status_code=303, headers=NO_STORE)


async def form_of(request: Request) -> Any:
    """The posted form (its CSRF token was checked before the handler ran)."""
    return await request.form()


# -- overview ------------------------------------------------------------------------------


@router.get("/admin")
async def overview(request: Request, me: Looking) -> Response:
    """What needs an admin: failed notifications, open incidents, the backlog."""
    engine = admin_engine(request, me, "see the admin pages")
    gauges = await run_in_threadpool(engine.gauges)
    return render(
        request,
        "admin.html",
        me,
        tab="overview",
        gauges=gauges,
        oldest=timedelta(seconds=gauges.outbox_oldest_pending_seconds),
        lag=timedelta(seconds=gauges.worker_lag_seconds),
    )


# -- failed notifications ------------------------------------------------------------------


@router.get("/admin/notifications")
async def notifications(
    request: Request,
    me: Looking,
    cursor: Cursor = None,
    retried: Count = None,
    skipped: Count = None,
) -> Response:
    """The failed notifications, newest first, one keyset page at a time."""
    engine = admin_engine(request, me, "see the outbox")
    page = await run_in_threadpool(engine.outbox_page, "failed", PAGE, cursor)
    return render(
        request,
        "admin_notifications.html",
        me,
        tab="notifications",
        items=page.items,
        next_cursor=page.next_cursor,
        cursor=cursor,
        now=engine.clock(),
        retried=retried,
        skipped=skipped,
    )


@router.post("/admin/notifications/{notification_id}/retry")
async def retry_notification(request: Request, me: Looking, notification_id: int) -> Response:
    """Queue one failed notification again (``POST /v1/outbox/{id}/retry``)."""
    engine = admin_engine(request, me, "retry notifications")
    await run_in_threadpool(engine.retry_notification, notification_id)
    return back_to("/admin/notifications?retried=1")


@router.post("/admin/notifications/retry")
async def retry_shown(request: Request, me: Looking) -> Response:
    """Queue again every notification the page showed (``ids``); one that is no longer
    failed (someone retried it meanwhile) or is gone is counted as skipped."""
    engine = admin_engine(request, me, "retry notifications")
    ids = _row_ids((await form_of(request)).getlist("ids"))
    retried, skipped = await run_in_threadpool(_retry_each, engine, ids)
    return back_to(f"/admin/notifications?retried={retried}&skipped={skipped}")


def _row_ids(values: list[Any]) -> list[int]:
    """The notification ids of a "retry all shown" form: at most a page, each a number."""
    if not values or len(values) > PAGE:
        raise Usage(f"retry 1 to {PAGE} notifications at a time, not {len(values)}")
    try:
        ids = [int(str(value)) for value in values]
    except ValueError:
        raise Usage("a notification id is a number") from None
    return list(dict.fromkeys(ids))


def _retry_each(engine: Any, ids: list[int]) -> tuple[int, int]:
    retried = skipped = 0
    for notification_id in ids:
        try:
            engine.retry_notification(notification_id)
        except (NotFound, Refused):
            skipped += 1
        else:
            retried += 1
    return retried, skipped


# -- incidents -----------------------------------------------------------------------------


@router.get("/admin/incidents")
async def incidents(
    request: Request,
    me: Looking,
    retried: RowId = None,
    outcome: Annotated[str | None, Query(pattern="^(recovered|failed|retrying|open)$")] = None,
    resolved: RowId = None,
) -> Response:
    """The unresolved incidents (retrying or open), newest first."""
    engine = admin_engine(request, me, "see the incidents")
    rows = await run_in_threadpool(lambda: engine.incidents(limit=INCIDENTS + 1))
    return render(
        request,
        "admin_incidents.html",
        me,
        tab="incidents",
        items=rows[:INCIDENTS],
        more=len(rows) > INCIDENTS,
        limit=INCIDENTS,
        now=engine.clock(),
        retried=retried,
        outcome=outcome,
        resolved=resolved,
    )


@router.post("/admin/incidents/{incident_id}/retry")
async def retry_incident(request: Request, me: Looking, incident_id: int) -> Response:
    """Run an incident's automation again now (``opsflow incidents retry``)."""
    engine = admin_engine(request, me, "retry incidents")
    incident, error = await run_in_threadpool(engine.retry_incident, incident_id, me.actor)
    outcome = "failed" if error is not None else incident.status
    if outcome not in ("recovered", "failed", "retrying", "open"):
        outcome = "recovered"  # cancelled: its case has moved on, nothing is left to run
    return back_to(f"/admin/incidents?retried={incident_id}&outcome={outcome}")


@router.post("/admin/incidents/{incident_id}/resolve")
async def resolve_incident(request: Request, me: Looking, incident_id: int) -> Response:
    """Close an incident by hand with a comment (``opsflow incidents resolve``)."""
    engine = admin_engine(request, me, "resolve incidents")
    comment = str((await form_of(request)).get("comment") or "")
    await run_in_threadpool(engine.resolve_incident, incident_id, comment, me.actor)
    return back_to(f"/admin/incidents?resolved={incident_id}")


# -- audit ---------------------------------------------------------------------------------


@router.get("/admin/audit")
async def audit_page(request: Request, me: Looking) -> Response:
    """The audit page: a button that checks every case's hash chain."""
    admin_engine(request, me, "verify the audit")
    return render(request, "admin_audit.html", me, tab="audit", result=None)


@router.post("/admin/audit")
async def audit_verify(request: Request, me: Looking) -> Response:
    """Check every case's hash chain now (``POST /v1/audit/verify``) and show the answer."""
    engine = admin_engine(request, me, "verify the audit")
    checked, problems = await run_in_threadpool(engine.audit_verify)
    result = {
        "ok": not problems,
        "cases_checked": checked,
        "problems": problems[:PROBLEMS],
        "problem_count": len(problems),
        "at": engine.clock(),
    }
    return render(request, "admin_audit.html", me, tab="audit", result=result)


__all__ = ["admin_engine", "back_to", "form_of", "router"]
