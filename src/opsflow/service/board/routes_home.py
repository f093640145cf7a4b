"""The way in: the login page, and the board's home (the inbox).

``POST /login`` and ``/login/oidc`` are the login routes' (``routes_login``); this page
only shows their forms: a password form when local passwords are on, and a button to the
OpenID Connect issuer when one is configured.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from opsflow.errors import OpsflowError
from opsflow.service.auth import SESSION_COOKIE
from opsflow.service.board.pages import NO_STORE, PageRoute, Viewer, render, viewer
from opsflow.service.paths import safe_next

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Next = Annotated[str | None, Query(max_length=2000)]


@router.get("/")
def home() -> Response:
    """The board opens on the inbox."""
    return RedirectResponse("/inbox", status_code=303, headers=NO_STORE)


@router.get("/login")
async def login_page(request: Request, next: Next = None) -> Response:
    """The login form (someone already logged in goes straight on to ``next``)."""
    if SESSION_COOKIE in request.cookies:
        try:
            await viewer(request)
        except Exception:  # noqa: BLE001 - any failure means: log in again
            pass
        else:
            return RedirectResponse(safe_next(next), status_code=303, headers=NO_STORE)
    return login_form(request, safe_next(next))


def login_form(
    request: Request,
    next_path: str,
    error: OpsflowError | None = None,
    username: str = "",
) -> Response:
    """The login page, with the error of a failed attempt (and its status) if any."""
    server = request.app.state.engine.settings.server
    headers: dict[str, str] = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    who: Viewer | None = None
    return render(
        request,
        "login.html",
        who,
        status=error.http_status if error else 200,
        headers=headers,
        next_path=next_path,
        password_login=server.password_login,
        oidc=server.oidc is not None,
        error=error,
        username=username,
    )


__all__ = ["login_form", "router"]
