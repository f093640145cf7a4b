"""``/v1/me`` and ``/v1/cases``: the actor, reading a case and changing it.

Bodies and answers are the CLI's ``--json`` shapes; the actor is always the authenticated
identity. Each handler is sync: FastAPI runs it in its threadpool, sized to the database pool.

Every answer that holds a case carries ``ETag: "N"`` (N: the case's row version); the case
JSON these routes answer holds it too, as ``etag`` beside the CLI's members. A write
sent with ``If-Match`` (``"N"``, ``W/"N"`` or ``*``) is refused with 412 when the case is
no longer at that version, checked inside the step's transaction. A start, fire, data
change may carry an ``Idempotency-Key``: it happens once per actor and key, and a repeat
answers exactly as the first time (status, body and ETag).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from opsflow.numbers import plain_int
from opsflow.service.answers import Answer, json_answer, json_body
from opsflow.service.auth import Identity, Reader, Writer, writer

router = APIRouter(prefix="/v1")

MAX_KEY = 150  # characters of an Idempotency-Key
MAX_COMMENT = 2000
HISTORY_PAGE = 200  # entries of one history page, at most

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY)
]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=100)]
Comment = Annotated[str | None, Query(max_length=MAX_COMMENT)]


class StartBody(BaseModel):
    """``POST /v1/cases``."""

    model_config = ConfigDict(extra="forbid")
    workflow: str = Field(min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class FireBody(BaseModel):
    """``POST /v1/cases/{id}/events/{event}``."""

    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class AssigneeBody(BaseModel):
    """``PUT /v1/cases/{id}/assignee``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class ComputeBody(BaseModel):
    """``POST /v1/cases/{id}/compute``."""

    model_config = ConfigDict(extra="forbid")
    metrics: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=200
    )


class Headers(Protocol):
    """Where a handler puts its answer's headers: a ``dict`` or a Starlette ``Response``'s."""

    def __setitem__(self, key: str, value: str, /) -> None: ...


def _engine(request: Request) -> Any:
    return request.app.state.engine


def _scoped(actor: str, key: str | None) -> str | None:
    """The engine's key for an ``Idempotency-Key``: one namespace per actor.

    The actor is hashed so that a long name and a long key still fit the engine's limit.
    """
    if key is None:
        return None
    owner = hashlib.sha256(actor.encode()).hexdigest()[:16]
    return f"http:{owner}:{key}"


def _etag(row_version: int) -> str:
    return f'"{row_version}"'


def expected_version(if_match: str | None) -> int | None:
    """The row version an ``If-Match`` asks for (None: absent or ``*``).

    ``"N"`` and ``W/"N"`` name version N; anything else cannot match any version, so it
    is handed to the engine as -1 and the write is refused with 412 (after 404 for a case
    that does not exist), as RFC 9110 asks.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/")
    digits = tag[1:-1] if len(tag) > 2 and tag[0] == tag[-1] == '"' else ""
    version = plain_int(digits)
    return -1 if version is None else version


def _case_body(headers: Headers, body: dict[str, Any], row_version: int) -> dict[str, Any]:
    """A case's JSON as the API answers it: with its ``etag``, also sent as ``ETag``."""
    headers["ETag"] = _etag(row_version)
    return body | {"etag": _etag(row_version)}


def _with_etag(response: Response, case: Any) -> dict[str, Any]:
    return _case_body(response.headers, case.to_json(), case.row_version)


def _keyed(
    engine: Any,
    headers: Headers,
    key: str | None,
    fresh: Callable[[], dict[str, Any]],
    case_shaped: bool = True,
) -> dict[str, Any]:
    """The answer of a keyed write: what its key's first write answered, else ``fresh()``.

    The engine keeps the first answer's body and ETag with the key, in the write's own
    transaction, so the first request and every repeat answer the same bytes.
    """
    body = fresh()
    if key is None:
        return body
    first = engine.keyed_response(key)
    if not first or "body" not in first:
        return body  # a key the CLI used before answers were kept
    version = int(first.get("etag", 0))
    kept: dict[str, Any] = first["body"]
    if case_shaped:
        return _case_body(headers, kept, version)
    headers["ETag"] = _etag(version)
    return kept


# -- the hot routes' work, shared by the routes below and the fast path (service/fast.py)


def me_answer(engine: Any, who: Identity) -> Answer:
    """``GET /v1/me``."""
    settings = engine.settings
    person = settings.people.get(who.actor)
    return json_body(
        {
            "name": who.actor,
            "roles": sorted(engine.roles_of(who.actor)),
            "admin": engine.is_admin(who.actor),
            "display_name": person.display_name if person else None,
            "email": person.email if person else None,
            "locale": (person.locale if person else None) or settings.server.locale,
            "read_only": who.read_only,
        }
    )


def case_answer(engine: Any, who: Identity, case_id: str) -> Answer:
    """``GET /v1/cases/{case_id}``."""
    case = engine.status(case_id, actor=who.actor)
    headers: dict[str, str] = {}
    return json_body(_case_body(headers, case.to_json(), case.row_version), headers=headers)


def fire_answer(
    engine: Any,
    who: Identity,
    case_id: str,
    event: str,
    body: FireBody | None,
    dry_run: bool,
    key: str | None,
    if_match: str | None,
) -> Answer:
    """``POST /v1/cases/{case_id}/events/{event}``."""
    if not dry_run:
        writer(who)  # a dry run writes nothing: a read-only token may ask
    given = body or FireBody()
    scoped = None if dry_run else _scoped(who.actor, key)
    result = engine.fire(
        case_id,
        event,
        actor=who.actor,
        data=given.data,
        comment=given.comment,
        key=scoped,
        dry_run=dry_run,
        expected_version=expected_version(if_match),
    )
    headers: dict[str, str] = {}

    def fresh() -> dict[str, Any]:
        headers["ETag"] = _etag(result.case.row_version)
        out: dict[str, Any] = result.to_json()
        return out

    answer = _keyed(engine, headers, scoped, fresh, case_shaped=False)
    return json_body(answer, headers=headers)


@router.get("/me", response_model=dict[str, Any])
def me(request: Request, who: Reader) -> Response:
    """The actor: name, roles, whether an admin, display name, e-mail and locale (the
    team entry's, else the server's), and whether the token may only read."""
    return me_answer(_engine(request), who).response()


@router.get("/cases/{case_id}", response_model=dict[str, Any])
def get_case(request: Request, case_id: str, who: Reader) -> Response:
    """The case as ``opsflow status --json`` shows it, for the actor; ``ETag`` its version."""
    return case_answer(_engine(request), who, case_id).response()


@router.post("/cases", status_code=201, response_model=dict[str, Any])
def start_case(
    request: Request, response: Response, body: StartBody, who: Writer, key: IdempotencyKey = None
) -> Response:
    """Start a case of a workflow (its current version); 201 with ``Location``."""
    scoped = _scoped(who.actor, key)
    case = _engine(request).start(
        body.workflow, data=body.data, actor=who.actor, key=scoped, comment=body.comment
    )
    response.headers["Location"] = f"/v1/cases/{case.id}"
    answer = _keyed(_engine(request), response.headers, scoped, lambda: _with_etag(response, case))
    return json_answer(answer, response, status_code=201)


@router.post("/cases/{case_id}/events/{event}", response_model=dict[str, Any])
def fire_event(
    request: Request,
    case_id: str,
    event: str,
    who: Reader,
    body: FireBody | None = None,
    dry_run: Annotated[bool, Query()] = False,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Fire an event on a case; the answer is ``opsflow fire --json``'s."""
    engine = _engine(request)
    answer = fire_answer(engine, who, case_id, event, body, dry_run, key, if_match)
    return answer.response()


@router.patch("/cases/{case_id}/data")
def patch_data(
    request: Request,
    response: Response,
    case_id: str,
    who: Writer,
    body: Annotated[dict[str, Any], Body()],
    comment: Comment = None,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Change a case's data: a JSON merge (``null`` removes a field); the case answers.

    The comment kept in the history is the ``comment`` query parameter (UTF-8, so any
    language, which an HTTP header could not carry).
    """
    scoped = _scoped(who.actor, key)
    case = _engine(request).set(
        case_id,
        data=body,
        actor=who.actor,
        comment=comment,
        key=scoped,
        expected_version=expected_version(if_match),
    )
    return _keyed(_engine(request), response.headers, scoped, lambda: _with_etag(response, case))


@router.get("/cases/{case_id}/history")
def history(
    request: Request,
    case_id: str,
    who: Reader,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=HISTORY_PAGE)] = HISTORY_PAGE,
) -> dict[str, Any]:
    """The audit trail after ``after_seq``, oldest first: ``{items, next_after_seq}``.

    ``next_after_seq`` is the ``after_seq`` of the next page, null on the last one.
    """
    engine = _engine(request)  # NotFound for a case the actor may not read, as if missing
    entries = engine.history(case_id, after_seq=after_seq, limit=limit + 1, actor=who.actor)
    page = entries[:limit]
    more = len(entries) > limit
    return {
        "items": [e.to_json() for e in page],
        "next_after_seq": page[-1].seq if more else None,
    }


@router.post("/cases/{case_id}/compute")
def compute(
    request: Request,
    response: Response,
    case_id: str,
    who: Writer,
    body: ComputeBody | None = None,
) -> dict[str, Any]:
    """Run calculators now (all the case's metrics, or those named): ``{case, metrics}``."""
    metrics = (body or ComputeBody()).metrics
    case, values = _engine(request).compute(case_id, metrics or None, actor=who.actor)
    return {"case": _with_etag(response, case), "metrics": values}


@router.put("/cases/{case_id}/assignee")
def assign(
    request: Request,
    response: Response,
    case_id: str,
    body: AssigneeBody,
    who: Writer,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Assign the case to a team member; the case answers."""
    case = _engine(request).assign(
        case_id, body.name, actor=who.actor, expected_version=expected_version(if_match)
    )
    return _with_etag(response, case)


@router.delete("/cases/{case_id}/assignee")
def unassign(
    request: Request, response: Response, case_id: str, who: Writer, if_match: IfMatch = None
) -> dict[str, Any]:
    """Assign the case to nobody; the case answers."""
    case = _engine(request).unassign(
        case_id, actor=who.actor, expected_version=expected_version(if_match)
    )
    return _with_etag(response, case)


@router.post("/cases/{case_id}/claim")
def claim(
    request: Request,
    response: Response,
    case_id: str,
    who: Writer,
    force: Annotated[bool, Query()] = False,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """Assign the case to the actor: 409 when someone else holds it, unless an admin
    forces it (``?force=true``; 403 for anyone else)."""
    case = _engine(request).claim(
        case_id, actor=who.actor, force=force, expected_version=expected_version(if_match)
    )
    return _with_etag(response, case)
