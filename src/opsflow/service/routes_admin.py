"""``/v1/outbox`` and ``/v1/audit/verify``: notification delivery and the hash chains, for admins.

Every route here is for the people ``admins:`` lists (403 for anyone else, 401 without
credentials); retrying a notification changes it, so a read-only token cannot (403).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from opsflow.engine.access import require_admin
from opsflow.service.auth import Reader, writer

router = APIRouter(prefix="/v1")


def _engine(request: Request) -> Any:
    return request.app.state.engine


@router.get("/outbox")
def list_outbox(
    request: Request,
    who: Reader,
    status: Annotated[Literal["failed", "pending", "delivered"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Notifications, newest first, keyset-paginated: ``{items, next_cursor}``."""
    engine = _engine(request)
    require_admin(engine, who.actor, "see the outbox")
    page: dict[str, Any] = engine.outbox_page(status, limit, cursor).to_json()
    return page


@router.post("/outbox/{notification_id}/retry")
def retry_notification(request: Request, notification_id: int, who: Reader) -> dict[str, Any]:
    """Queue a failed notification again (404 when there is none, 409 unless it failed)."""
    engine = _engine(request)
    require_admin(engine, who.actor, "retry notifications")
    writer(who)
    row: dict[str, Any] = engine.retry_notification(notification_id).to_json()
    return row


@router.post("/audit/verify")
def audit_verify(request: Request, who: Reader) -> dict[str, Any]:
    """Check every case's hash chain: ``opsflow audit verify --json``'s answer."""
    engine = _engine(request)
    require_admin(engine, who.actor, "verify the audit")
    checked, problems = engine.audit_verify()
    return {
        "ok": not problems,
        "cases_checked": checked,
        "problems": [p.to_json() for p in problems],
    }
