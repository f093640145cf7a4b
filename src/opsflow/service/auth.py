"""Who is acting: an API token (``Authorization: Bearer TOKEN``) or a board session (cookie).

The actor of every request is the authenticated identity, never a name the request gives.
A session travels in an HttpOnly, SameSite=Lax cookie (Secure when ``server.base_url`` is
https); a request authenticated by it that may change something (any method but GET, HEAD
and OPTIONS) must also carry the session's CSRF token, in the ``X-CSRF-Token`` header or a
form's ``csrf_token`` field, or it is refused (403) before anything runs. A token needs
no CSRF token: a browser never adds an ``Authorization`` header by itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from opsflow.engine.identity import authenticate_token
from opsflow.engine.sessions import Session, authenticate_session, csrf_matches
from opsflow.errors import NotAuthenticated, NotFound, NotPermitted

SESSION_COOKIE = "opsflow_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class Identity(Protocol):
    """What a request acts as: ``opsflow.engine.identity.Identity`` or a ``Session``."""

    @property
    def actor(self) -> str: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def prefix(self) -> str: ...


def bearer_token(request: Request) -> str:
    """The token of the request's ``Authorization: Bearer`` header (401 without one)."""
    token = token_of(request.headers.get("authorization", ""))
    if token is None:
        raise NotAuthenticated(
            "authentication required",
            [
                "send 'Authorization: Bearer TOKEN' (opsflow token create)",
                "or log in (POST /login) and send the session cookie",
            ],
        )
    return token


def token_of(header: str) -> str | None:
    """The token of an ``Authorization`` header's value (None unless ``Bearer TOKEN``)."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def identity(request: Request) -> Identity:
    """The identity behind the request's token or session cookie (401 when none is valid).

    A token wins over a cookie. With the cookie, an unsafe method needs the CSRF token
    (403). The engine's checks run in the threadpool, beside the handlers' engine calls.
    """
    engine = request.app.state.engine
    session_id = request.cookies.get(SESSION_COOKIE)
    if "authorization" in request.headers or session_id is None:
        token = bearer_token(request)
        by_token: Identity = await run_in_threadpool(authenticate_token, engine, token)
        return by_token
    session: Session = await run_in_threadpool(authenticate_session, engine, session_id)
    if request.method not in SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER) or await _form_field(request, CSRF_FIELD)
        if not csrf_matches(session_id, presented):
            raise NotPermitted(
                "this request lacks the session's CSRF token",
                [
                    f"send the {CSRF_HEADER} header (GET /v1/session gives the token)",
                    f"or the form field {CSRF_FIELD}",
                ],
            )
    return session


async def _form_field(request: Request, name: str) -> str | None:
    """A field of a form body (None for another body, or no such field)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in FORMS:
        return None
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else None


def writer(found: Annotated[Identity, Depends(identity)]) -> Identity:
    """The identity, when it may change cases (a read-only token answers 403)."""
    if found.read_only:
        raise NotPermitted(
            "this token is read-only", ["use a token created without --read-only to change cases"]
        )
    return found


def board_session(found: Annotated[Identity, Depends(identity)]) -> Session:
    """The board session the request came with (404 for a request with a token)."""
    if not isinstance(found, Session):
        raise NotFound(
            "this request has no board session",
            ["it was authenticated with an API token; log in (POST /login) for a session"],
        )
    return found


def set_session_cookie(response: Response, engine: Any, session_id: str, session: Session) -> None:
    """Give the browser its session: HttpOnly, SameSite=Lax, Path=/, Secure under https."""
    lifetime = session.expires_at - engine.clock()
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max(1, int(lifetime.total_seconds())),
        path="/",
        httponly=True,
        samesite="lax",
        secure=engine.settings.server.secure_cookies,
    )


def clear_session_cookie(response: Response, engine: Any) -> None:
    """Tell the browser to forget its session cookie."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=engine.settings.server.secure_cookies,
    )


async def _may_write(found: Annotated[Identity, Depends(identity)]) -> Identity:
    # The checks above do no I/O: run on the event loop they cost nothing, while FastAPI
    # would run a sync dependency in its threadpool (one more thread handoff per request).
    return writer(found)


async def _board_session(found: Annotated[Identity, Depends(identity)]) -> Session:
    return board_session(found)


Reader = Annotated[Identity, Depends(identity)]
Writer = Annotated[Identity, Depends(_may_write)]
BoardSession = Annotated[Session, Depends(_board_session)]
