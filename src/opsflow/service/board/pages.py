"""Rendering a board page: who is looking, in which language, and the page's HTML.

Every page is a Jinja2 template of ``templates/`` rendered with autoescaping, in the
viewer's locale (``i18n``), with the viewer's CSRF token for its forms. A page that needs a
login sends the browser to ``/login?next=…`` (htmx: ``HX-Redirect``); an engine error on a
page answers an HTML page with the same status the API gives (``problems``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from opsflow.engine.sessions import Session
from opsflow.errors import NotAuthenticated
from opsflow.language.text import localized
from opsflow.service.auth import SESSION_COOKIE, identity
from opsflow.service.board import i18n

HTMX = "htmx-2.0.11.min.js"  # the vendored htmx (static/VENDORED.md says why this one)
NO_STORE = {"Cache-Control": "no-store"}


class PageRoute(APIRoute):
    """A route answering HTML: its errors answer an HTML page, not problem+json."""

    is_page = True


@dataclass(frozen=True)
class Viewer:
    """The person looking at a page, through their board session."""

    actor: str
    display_name: str
    roles: frozenset[str]
    admin: bool
    locale: str
    csrf_token: str
    expires_at: datetime


def page_locale(request: Request, actor: str | None = None) -> str:
    """The locale of a page for ``actor`` (or for nobody yet: the login page)."""
    settings = request.app.state.engine.settings
    person = settings.people.get(actor) if actor else None
    return i18n.choose(
        person.locale if person else None,
        request.headers.get("accept-language"),
        settings.server.locale,
    )


async def viewer(request: Request) -> Viewer:
    """The page's viewer (a board session; CSRF checked on a change).

    Without a valid session (none, expired, ended on another host, forged, or a token:
    pages are for people who logged in) it raises NotAuthenticated, which on a page
    answers with the login page (``error_page``).
    """
    if SESSION_COOKIE not in request.cookies:
        raise NotAuthenticated("log in to see this page")
    found = await identity(request)
    if not isinstance(found, Session):
        raise NotAuthenticated("log in to see this page")
    engine = request.app.state.engine
    person = engine.settings.people.get(found.actor)
    request.state.viewer = looking = Viewer(
        actor=found.actor,
        display_name=(person.display_name if person else None) or found.actor,
        roles=frozenset(engine.roles_of(found.actor)),
        admin=engine.is_admin(found.actor),
        locale=page_locale(request, found.actor),
        csrf_token=found.csrf_token,
        expires_at=found.expires_at,
    )
    return looking


Looking = Annotated[Viewer, Depends(viewer)]


def _here(request: Request) -> str:
    """The path (and query) the viewer asked for: where a login sends them back."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def login_redirect(request: Request, next_path: str) -> Response:
    """To the login page, and back to ``next_path`` afterwards."""
    if request.method != "GET":  # a form posted after the session ended: back to its page
        came_from = urlsplit(request.headers.get("hx-current-url") or "")
        next_path = came_from.path + (f"?{came_from.query}" if came_from.query else "")
        next_path = next_path or "/"
    target = "/login?next=" + quote(next_path, safe="/")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target, **NO_STORE})
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


@functools.cache
def environment(tag: str, timezone: str = "UTC") -> Environment:
    """The templates in one locale (one environment per locale: its gettext installed),
    showing times on the clocks of ``timezone`` (the project's, an IANA name)."""
    env = Environment(
        loader=PackageLoader("opsflow.service.board", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(tag), newstyle=True)  # type: ignore[attr-defined]
    formats = i18n.Formats(tag, ZoneInfo(timezone))
    env.globals.update(
        htmx=HTMX,
        locale=tag,
        lang=tag,
        fmt=formats,
    )
    env.filters["tr"] = functools.partial(_text_in, tag)
    return env


def _text_in(tag: str, value: Any, default: str = "") -> str:
    """A title or description (a string or a ``{locale: text}`` map) in ``tag``."""
    found = localized(value, tag)
    return default if found is None else found


def render(
    request: Request,
    template: str,
    who: Viewer | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered for ``who`` (None: nobody is logged in), as an HTML answer."""
    tag = who.locale if who else page_locale(request)
    html = (
        environment(tag, _timezone(request))
        .get_template(template)
        .render(request=request, me=who, path=_here(request), **context)
    )
    return HTMLResponse(html, status_code=status, headers={**NO_STORE, **(headers or {})})


def _timezone(request: Request) -> str:
    """The project's time zone (``timezone:`` in opsflow.yaml), in which pages show times."""
    engine = getattr(request.app.state, "engine", None)
    return str(getattr(getattr(engine, "settings", None), "timezone", "UTC"))


def is_page_request(request: Request) -> bool:
    """Whether an error of this request answers HTML: a board route, or a browser's GET
    of a path that is not the API's."""
    if getattr(request.scope.get("route"), "is_page", False):
        return True
    path = request.url.path
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and not path.startswith(("/v1/", "/static/", "/metrics", "/healthz", "/readyz"))
    )


def error_page(request: Request, status: int, detail: str, reasons: list[str]) -> Response:
    """The HTML answer to an error on a page: what went wrong, and the way back (401:
    the login page, and back here afterwards)."""
    if status == 401:
        return login_redirect(request, _here(request))
    who: Viewer | None = getattr(request.state, "viewer", None)
    return render(
        request,
        "error.html",
        who,
        status=status,
        code=status,
        detail=detail,
        reasons=reasons,
        signed_in=SESSION_COOKIE in request.cookies,  # else the way back is the login page
    )


__all__ = [
    "Looking",
    "PageRoute",
    "Viewer",
    "environment",
    "error_page",
    "is_page_request",
    "render",
    "viewer",
]
