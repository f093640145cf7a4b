"""``/v1/me`` and ``/v1/cases``: the actor, reading a case, starting one and firing events.

Bodies and answers are the CLI's ``--json`` shapes; the actor is always the authenticated
identity. Each handler is sync: FastAPI runs it in its threadpool, sized to the database pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from opsflow.service.auth import Reader, Writer, writer

router = APIRouter(prefix="/v1")

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=150)]


class StartBody(BaseModel):
    """``POST /v1/cases``."""

    model_config = ConfigDict(extra="forbid")
    workflow: str = Field(min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)


class FireBody(BaseModel):
    """``POST /v1/cases/{id}/events/{event}``."""

    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=2000)


def _engine(request: Request) -> Any:
    return request.app.state.engine


def _scoped(actor: str, key: str | None) -> str | None:
    """The engine's key for an ``Idempotency-Key``: one namespace per actor."""
    return None if key is None else f"http:{actor}:{key}"


def _etag(row_version: int) -> str:
    return f'"{row_version}"'


@router.get("/me")
def me(request: Request, who: Reader) -> dict[str, Any]:
    """The actor: name and roles, and whether the token may only read."""
    engine = _engine(request)
    return {
        "name": who.actor,
        "roles": sorted(engine.roles_of(who.actor)),
        "read_only": who.read_only,
    }


@router.get("/cases/{case_id}")
def get_case(request: Request, response: Response, case_id: str, who: Reader) -> dict[str, Any]:
    """The case as ``opsflow status --json`` shows it, for the actor; ``ETag`` its version."""
    case = _engine(request).status(case_id, actor=who.actor)
    response.headers["ETag"] = _etag(case.row_version)
    body: dict[str, Any] = case.to_json()
    return body


@router.post("/cases", status_code=201)
def start_case(
    request: Request, response: Response, body: StartBody, who: Writer, key: IdempotencyKey = None
) -> dict[str, Any]:
    """Start a case of a workflow (its current version); 201 with ``Location``."""
    case = _engine(request).start(
        body.workflow, data=body.data, actor=who.actor, key=_scoped(who.actor, key)
    )
    response.headers["Location"] = f"/v1/cases/{case.id}"
    response.headers["ETag"] = _etag(case.row_version)
    out: dict[str, Any] = case.to_json()
    return out


@router.post("/cases/{case_id}/events/{event}")
def fire_event(
    request: Request,
    case_id: str,
    event: str,
    who: Reader,
    body: FireBody | None = None,
    dry_run: Annotated[bool, Query()] = False,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Fire an event on a case; the answer is ``opsflow fire --json``'s."""
    if not dry_run:
        writer(who)  # a dry run writes nothing: a read-only token may ask
    given = body or FireBody()
    result = _engine(request).fire(
        case_id,
        event,
        actor=who.actor,
        data=given.data,
        comment=given.comment,
        key=_scoped(who.actor, key),
        dry_run=dry_run,
    )
    out: dict[str, Any] = result.to_json()
    return out
