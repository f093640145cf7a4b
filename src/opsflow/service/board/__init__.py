"""The web board: server-rendered pages for the people who never open a terminal.

Pages are Jinja2 templates rendered by the same app as the API, on the same engine calls
(the board holds no logic the API lacks), with htmx (vendored) for partial updates. Every
answer carries a strict Content-Security-Policy (no inline script or style) and
``X-Frame-Options: DENY``; every form carries the session's CSRF token.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsflow.service.board import pages

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STATIC = "/board-static"


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every answer that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_secured)


def page_modules() -> list[ModuleType]:
    """The board's ``routes_*`` modules (each has a ``router`` of pages), by name."""
    names = sorted(
        info.name for info in pkgutil.iter_modules(__path__) if info.name.startswith("routes_")
    )
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def install(app: FastAPI) -> None:
    """Serve the board's pages and assets from ``app``, with its security headers."""
    app.state.error_page = pages.error_page
    for module in page_modules():
        app.include_router(module.router)
    app.mount(
        STATIC,
        StaticFiles(packages=[("opsflow.service.board", "static")]),
        name="board-static",
    )
    app.add_middleware(SecurityHeaders)


__all__ = ["CSP", "SECURITY_HEADERS", "install"]
