"""Logging in and out of the board: passwords, OpenID Connect, and the current session.

``POST /login`` takes ``{username, password}`` as JSON or as a form; a JSON client gets
``{name, csrf_token, expires_at}``, a form post a 303 to ``next`` (a path on this site
only). ``GET /login/oidc`` sends the browser to the issuer; ``GET /login/oidc/callback``
receives its answer. ``POST /logout`` (with the CSRF token) ends the session, or every
session of the person with ``?everywhere=true``. ``GET /v1/session`` shows the session and
its CSRF token. What a login checks (throttling, the password, the id_token, the team) is
the engine's.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python
from starlette.concurrency import run_in_threadpool

from opsflow.engine.identity import MAX_PASSWORD
from opsflow.engine.logins import password_login
from opsflow.engine.oidc import finish_login, start_login
from opsflow.engine.sessions import end_session, end_sessions_of
from opsflow.errors import NotPermitted, OpsflowError, Usage
from opsflow.service.auth import (
    FORMS,
    SESSION_COOKIE,
    BoardSession,
    clear_session_cookie,
    set_session_cookie,
)
from opsflow.service.board.routes_home import login_form
from opsflow.service.paths import safe_next

router = APIRouter(tags=["login"])

OIDC_COOKIE = "opsflow_oidc"  # binds the issuer's answer to the browser that asked
OIDC_PATH = "/login/oidc"
NO_STORE = {"Cache-Control": "no-store"}
Next = Annotated[str | None, Query(max_length=2000, description="a path on this site")]


class LoginBody(BaseModel):
    """``POST /login``."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(max_length=MAX_PASSWORD)
    next: str | None = Field(default=None, max_length=2000)
    csrf_token: str | None = Field(default=None, max_length=200)  # a form may carry one


def _engine(request: Request) -> Any:
    return request.app.state.engine


def _base(request: Request) -> str:
    """This service's address: ``server.base_url``, else the one the request came to."""
    configured: str | None = _engine(request).settings.server.base_url
    return configured or str(request.base_url).rstrip("/")


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in FORMS


def _check_origin(request: Request) -> None:
    """Refuse a login posted from another site (login CSRF): its ``Origin`` is not ours."""
    origin = request.headers.get("origin")
    if origin is None:  # not sent by a browser
        return
    ours = {
        f"{p.scheme}://{p.netloc}" for p in map(urlsplit, (_base(request), str(request.base_url)))
    }
    if origin.rstrip("/") not in ours:
        raise NotPermitted("a login from another site is refused", [f"Origin: {origin[:100]}"])


async def _login_body(request: Request) -> tuple[LoginBody, bool]:
    """The credentials, from a form or a JSON body; and whether they came as a form."""
    form = _is_form(request)
    raw: Any
    if form:
        raw = {k: v for k, v in (await request.form()).items()}
    else:
        try:
            raw = json.loads(await request.body() or b"null")
        except ValueError:
            raise Usage("the request body is not valid JSON") from None
        if not isinstance(raw, dict):
            raise Usage("send {username, password} as JSON or as a form")
    try:
        return LoginBody.model_validate(raw), form
    except ValidationError as exc:  # never echo the input: it holds the password
        errors = [{**e, "input": None} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post(
    "/login",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginBody.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": LoginBody.model_json_schema()},
            },
        }
    },
    responses={200: {"description": "JSON: {name, csrf_token, expires_at}"}, 303: {}},
)
async def login(request: Request) -> Response:
    """Log in with a user name and password; sets the session cookie.

    A JSON client gets ``{name, csrf_token, expires_at}``; a form post is sent on to
    ``next`` (a path on this site). Wrong password, unknown user and a user without a
    password answer the same 401; repeated failures answer 429 with ``Retry-After``.
    """
    _check_origin(request)
    body, form = await _login_body(request)
    engine = _engine(request)
    address = request.client.host if request.client else None
    try:
        session_id, session = await run_in_threadpool(
            password_login, engine, body.username, body.password, address
        )
    except OpsflowError as exc:
        if not form:
            raise
        # The board's form: the login page again, with what went wrong and its status.
        return login_form(request, safe_next(body.next), exc, body.username)
    response: Response
    if form:
        response = RedirectResponse(safe_next(body.next), status_code=303, headers=NO_STORE)
    else:
        answer = {key: session.to_json()[key] for key in ("name", "csrf_token", "expires_at")}
        response = JSONResponse(
            to_jsonable_python(answer), headers=NO_STORE
        )  # times as /v1 gives them
    set_session_cookie(response, engine, session_id, session)
    return response


@router.post("/logout", responses={200: {"description": "JSON: {ended}"}, 303: {}})
async def logout(
    request: Request,
    session: BoardSession,
    everywhere: bool = False,
    next: Next = None,
) -> Response:
    """End this session (with ``?everywhere=true``: every session of the person).

    Needs the session's CSRF token like every other change. A form post is sent on to
    ``next``; a JSON client gets ``{ended}``, how many sessions ended.
    """
    engine = _engine(request)
    if everywhere:
        ended = await run_in_threadpool(end_sessions_of, engine, session.actor)
    else:
        cookie = request.cookies[SESSION_COOKIE]  # the one identity() just authenticated
        ended = int(await run_in_threadpool(end_session, engine, cookie))
    response: Response
    if _is_form(request):
        response = RedirectResponse(safe_next(next), status_code=303, headers=NO_STORE)
    else:
        response = JSONResponse({"ended": ended}, headers=NO_STORE)
    clear_session_cookie(response, engine)
    return response


@router.get("/v1/session")
def current_session(response: Response, session: BoardSession) -> dict[str, Any]:
    """The session the request came with: who, how, until when, and its CSRF token."""
    response.headers.update(NO_STORE)
    body: dict[str, Any] = session.to_json()
    return body


@router.get("/login/oidc", status_code=303, responses={303: {"description": "to the issuer"}})
def oidc_login(request: Request, next: Next = None) -> Response:
    """Log in through the OpenID Connect issuer: a redirect to its login page."""
    engine = _engine(request)
    redirect_uri = f"{_base(request)}{OIDC_PATH}/callback"
    start = start_login(engine, redirect_uri, safe_next(next))
    response = RedirectResponse(start.authorize_url, status_code=303, headers=NO_STORE)
    response.set_cookie(
        OIDC_COOKIE,
        start.binding,
        max_age=600,
        path=OIDC_PATH,
        httponly=True,
        samesite="lax",  # sent back when the issuer sends the browser here (a top-level GET)
        secure=engine.settings.server.secure_cookies,
    )
    return response


@router.get(f"{OIDC_PATH}/callback", status_code=303, responses={303: {"description": "to next"}})
def oidc_callback(
    request: Request,
    state: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The issuer's answer: opens the session and goes on to the page the login began on."""
    engine = _engine(request)
    done = finish_login(
        engine, state=state, code=code, binding=request.cookies.get(OIDC_COOKIE), error=error
    )
    response = RedirectResponse(done.next_path, status_code=303, headers=NO_STORE)
    set_session_cookie(response, engine, done.session_id, done.session)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax")
    return response
