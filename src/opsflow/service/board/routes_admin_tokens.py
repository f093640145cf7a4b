"""``/admin/tokens``: API tokens — everyone's own, and anyone's for admins.

The same engine calls and rules as ``opsflow token``: a person lists, creates and revokes
their own tokens; another person's only as an admin (``require_token_manager``). A new
token is shown once, on the answer to the form that created it (never stored, never
redirected to, never cached); every other page shows only its prefix.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from opsflow.engine.access import require_token_manager, token_owner
from opsflow.engine.identity import create_token, list_tokens, revoke_token
from opsflow.errors import Usage
from opsflow.service.board.pages import Looking, PageRoute, Viewer, render
from opsflow.service.board.routes_admin_pages import back_to, form_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LIFETIMES: dict[str, int | None] = {"30d": 30, "90d": 90, "365d": 365, "never": None}
DEFAULT_LIFETIME = "90d"
PREFIX = r"^opsf_[A-Za-z0-9_-]{7}$"  # what a page says it revoked: a prefix, nothing else
Name = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/admin/tokens")
async def tokens(
    request: Request,
    me: Looking,
    owner: Name = None,
    revoked: Annotated[str | None, Query(pattern=PREFIX)] = None,
) -> Response:
    """My tokens (an admin: everyone's, or ``owner``'s), newest first, by prefix only."""
    engine = request.app.state.engine
    shown = owner if me.admin else me.actor
    rows = await run_in_threadpool(list_tokens, engine, shown)
    return token_page(request, me, rows, owner=shown if me.admin else None, revoked=revoked)


def token_page(request: Request, me: Viewer, rows: list[Any], **context: Any) -> Response:
    """The tokens page: the list and the form that creates one."""
    team = sorted(request.app.state.engine.settings.team) if me.admin else []
    return render(
        request,
        "admin_tokens.html",
        me,
        tab="tokens",
        rows=rows,
        team=team,
        lifetimes=list(LIFETIMES),
        default_lifetime=DEFAULT_LIFETIME,
        now=request.app.state.engine.clock(),
        **context,
    )


@router.post("/admin/tokens")
async def create(request: Request, me: Looking) -> Response:
    """Create a token (for myself; an admin for anyone in the team) and show it once."""
    engine = request.app.state.engine
    form = await form_of(request)
    owner = str(form.get("owner") or me.actor).strip()
    lifetime = str(form.get("expires") or DEFAULT_LIFETIME)
    if lifetime not in LIFETIMES:
        raise Usage(f"a token lasts one of {', '.join(LIFETIMES)}, not {lifetime[:20]!r}")
    days = LIFETIMES[lifetime]
    read_only = form.get("read_only") in ("on", "true", "1")

    def make() -> tuple[str, Any]:
        require_token_manager(engine, me.actor, owner)
        return create_token(
            engine,
            owner,
            expires=timedelta(days=days) if days is not None else None,
            read_only=read_only,
            by=me.actor,
        )

    token, info = await run_in_threadpool(make)
    return render(request, "admin_token_created.html", me, tab="tokens", token=token, info=info)


@router.post("/admin/tokens/{prefix}/revoke")
async def revoke(request: Request, me: Looking, prefix: str) -> Response:
    """End a token at once, on every host (mine; an admin's: anyone's)."""
    engine = request.app.state.engine

    def end() -> None:
        require_token_manager(engine, me.actor, token_owner(engine, prefix))
        revoke_token(engine, prefix, by=me.actor)

    await run_in_threadpool(end)
    return back_to(f"/admin/tokens?revoked={prefix}")


__all__ = ["router"]
