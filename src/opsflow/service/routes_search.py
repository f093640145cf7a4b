"""``GET /v1/cases``: search (filters, ``where``, ``q``), sorted and keyset-paginated.

The parameters are those of :class:`opsflow.engine.search.SearchQuery`; the engine checks
them (a ``where`` outside the search subset, a bad cursor or sort: 400 ``invalid_query``)
and answers in one SQL statement. ``limit`` above 200 is refused (422), never clamped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from opsflow.engine.search import MAX_LIMIT, SearchQuery
from opsflow.engine.search_json import page_json
from opsflow.service.answers import Answer
from opsflow.service.auth import Identity, Reader

router = APIRouter(prefix="/v1")

_PAGE: dict[str, Any] = {
    "description": "`{items, next_cursor}`: cases as `opsflow cases --json` shows them",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": {"type": "object"}},
                    "next_cursor": {"type": ["string", "null"]},
                },
            }
        }
    },
}

Text = Annotated[str | None, Query(max_length=200)]


@router.get("/cases", response_class=Response, responses={200: _PAGE})
def search_cases(
    request: Request,
    who: Reader,
    workflow: Text = None,
    state: Annotated[list[str] | None, Query(max_length=100)] = None,
    open: bool | None = None,
    assignee: Text = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: Text = None,
    where: Annotated[str | None, Query(max_length=2000)] = None,
    sort: Annotated[str, Query(max_length=20)] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """``{items, next_cursor}``: the cases the actor may read that match every filter.

    ``state`` may be repeated; ``open=true|false``; ``created_after`` (inclusive) and
    ``created_before`` (exclusive) take ISO 8601; ``q`` is text in the string and text
    fields; ``where`` compares fields, ``state``, ``assignee``, ``created_at`` and
    ``updated_at`` with literals (``budget > 10000 and kind == 'ad'``); ``sort`` is
    ``created_at``, ``updated_at`` or ``id``, ``-`` first for newest/last first; pass
    ``next_cursor`` back as ``cursor`` for the next page (null on the last one).
    """
    return search_answer(
        request.app.state.engine,
        who,
        workflow=workflow,
        state=state,
        open=open,
        assignee=assignee,
        created_after=created_after,
        created_before=created_before,
        q=q,
        where=where,
        sort=sort,
        limit=limit,
        cursor=cursor,
    ).response()


def search_answer(
    engine: Any,
    who: Identity,
    *,
    workflow: str | None = None,
    state: list[str] | None = None,
    open: bool | None = None,
    assignee: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: str | None = None,
    where: str | None = None,
    sort: str = "-created_at",
    limit: int = 50,
    cursor: str | None = None,
) -> Answer:
    """The search's answer, for the route above and the fast path (``service/fast.py``);
    the parameters are the route's, validated."""
    query = SearchQuery(
        workflow=workflow,
        states=tuple(state or ()),
        open=open,
        assignee=assignee,
        created_after=created_after,
        created_before=created_before,
        q=q,
        where=where,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    # Written from the rows, the bytes of Engine.search(...).to_json() (engine/search_json):
    # no Case made of each row only to be turned into JSON again.
    return Answer(page_json(engine, query, who.actor).encode())
