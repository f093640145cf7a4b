"""``/v1/inbox``: the open cases where the actor can fire an event now, keyset-paginated."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from opsflow.service.auth import Reader

router = APIRouter(prefix="/v1")

MAX_LIMIT = 200  # items a page may hold; a larger limit is refused with 422


@router.get("/inbox")
def get_inbox(
    request: Request,
    who: Reader,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """``{items, next_cursor}``: cases as ``opsflow inbox --json`` lists them, newest change
    first; ``mine=true`` keeps those assigned to the actor."""
    page = request.app.state.engine.inbox(who.actor, limit=limit, cursor=cursor, mine=mine)
    return {"items": [case.to_json() for case in page], "next_cursor": page.next_cursor}
