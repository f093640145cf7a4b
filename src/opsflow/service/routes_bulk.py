"""``POST /v1/bulk/events``: one event fired on many cases, each case its own step.

The answer is ``opsflow bulk fire --json``'s: 200 with each case's outcome or error and the
counts, whatever each case's fate. A request the engine refuses as a whole (more than
10,000 cases, a filter it cannot run) is a problem+json and nothing is done.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Self

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from opsflow.service.auth import Reader, writer

router = APIRouter(prefix="/v1")

MAX_KEY = 150  # characters of an Idempotency-Key, as for a single fire
MAX_COMMENT = 2000
Name = Annotated[str, Field(min_length=1, max_length=200)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY)
]


class BulkFilter(BaseModel):
    """The search that selects the cases (``opsflow cases``' filters)."""

    model_config = ConfigDict(extra="forbid")
    workflow: Name | None = None
    state: Name | list[Name] | None = Field(default=None)
    where: str | None = Field(default=None, max_length=2000)
    q: str | None = Field(default=None, max_length=200)
    assignee: Name | None = None
    open: bool | None = None

    def states(self) -> tuple[str, ...]:
        if self.state is None:
            return ()
        return (self.state,) if isinstance(self.state, str) else tuple(self.state)


class BulkBody(BaseModel):
    """``POST /v1/bulk/events``: exactly one of ``cases`` and ``filter``."""

    model_config = ConfigDict(extra="forbid")
    event: Name
    # No length bound here: the engine refuses more than 10,000 cases with the count.
    cases: list[Name] | None = None
    filter: BulkFilter | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    dry_run: bool = False

    @model_validator(mode="after")
    def one_selection(self) -> Self:
        if (self.cases is None) == (self.filter is None):
            raise ValueError("give exactly one of 'cases' (a list of case ids) and 'filter'")
        return self


def bulk_key(actor: str, key: str | None) -> str | None:
    """The engine's key for a bulk ``Idempotency-Key``: one namespace per actor, kept short
    (hashed) so that each case's key (this, ':' and the case id) fits the engine's limit."""
    if key is None:
        return None
    owner = hashlib.sha256(actor.encode()).hexdigest()[:16]
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"http:{owner}:bulk:{digest}"


@router.post("/bulk/events")
def bulk_fire(
    request: Request, body: BulkBody, who: Reader, key: IdempotencyKey = None
) -> dict[str, Any]:
    """Fire ``event`` on each case of ``cases`` or of the cases ``filter`` selects; the
    answer is ``opsflow bulk fire --json``'s. A read-only token may only ``dry_run``."""
    if not body.dry_run:
        writer(who)  # a dry run writes nothing: a read-only token may ask
    from opsflow.runners.bulk import search_query

    query = None
    if body.filter is not None:
        chosen = body.filter
        query = search_query(
            workflow=chosen.workflow,
            states=chosen.states(),
            where=chosen.where,
            q=chosen.q,
            assignee=chosen.assignee,
            open=chosen.open,
        )
    result = request.app.state.engine.bulk_fire(
        body.event,
        cases=body.cases,
        query=query,
        data=body.data,
        comment=body.comment,
        dry_run=body.dry_run,
        actor=who.actor,
        key=None if body.dry_run else bulk_key(who.actor, key),
    )
    out: dict[str, Any] = result.to_json()
    return out
