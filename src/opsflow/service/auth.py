"""Who is acting: the identity behind ``Authorization: Bearer TOKEN``.

The actor of every request is the authenticated identity, never a name the request gives.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from opsflow.errors import NotAuthenticated, NotPermitted


class Identity(Protocol):
    """What a request acts as (``opsflow.engine.identity.Identity``)."""

    @property
    def actor(self) -> str: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def prefix(self) -> str: ...


def bearer_token(request: Request) -> str:
    """The token of the request's ``Authorization: Bearer`` header (401 without one)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated(
            "authentication required", ["send 'Authorization: Bearer TOKEN' (opsflow token create)"]
        )
    return token


def identity(request: Request) -> Identity:
    """The identity the request's token belongs to (401 when none, or it is not valid).

    A sync dependency: FastAPI runs it in its threadpool, beside the engine calls.
    """
    from opsflow.engine.identity import authenticate_token

    token = bearer_token(request)
    found: Identity = authenticate_token(request.app.state.engine, token)
    return found


def writer(found: Annotated[Identity, Depends(identity)]) -> Identity:
    """The identity, when it may change cases (a read-only token answers 403)."""
    if found.read_only:
        raise NotPermitted(
            "this token is read-only", ["use a token created without --read-only to change cases"]
        )
    return found


Reader = Annotated[Identity, Depends(identity)]
Writer = Annotated[Identity, Depends(writer)]
