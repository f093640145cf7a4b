"""``create_app(engine)``: the ASGI application ``opsflow serve`` runs.

One ``Engine`` per process, shared by every request. The engine is synchronous: handlers
are plain functions that FastAPI runs in anyio's threadpool, whose size is set to the
database pool's so a request never waits for a thread while holding no connection.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from opsflow.errors import OpsflowError
from opsflow.service import (
    board,
    budget,
    fast,
    health,
    openapi,
    problems,
    reference,
    routes_admin,
    routes_bulk,
    routes_cases,
    routes_chain,
    routes_inbox,
    routes_login,
    routes_search,
    routes_workflows,
)
from opsflow.version import __version__

log = logging.getLogger("opsflow.service")


def from_environment() -> FastAPI:
    """The application on an engine built from ``OPSFLOW_*`` and ``opsflow.yaml``.

    ``opsflow serve`` hands uvicorn this factory: each worker process builds its own engine.
    """
    from opsflow.facade import Engine

    return create_app(Engine.from_config(), close_engine=True)


def create_app(engine: Any, *, close_engine: bool = False, fast_path: bool = True) -> FastAPI:
    """The HTTP API on ``engine`` (an ``opsflow.Engine``; closed at shutdown if asked).

    ``fast_path`` answers the hot requests without FastAPI's routing (``service/fast.py``);
    off, every request goes through FastAPI (the same answers; tests compare them).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from opsflow.engine.admin import pool_size

        to_thread.current_default_thread_limiter().total_tokens = pool_size(engine.db)
        await to_thread.run_sync(_prepare, engine)
        try:
            yield
        finally:
            if close_engine:
                engine.close()

    app = FastAPI(
        title="opsflow",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN: nothing from the internet
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    app.state.engine = engine
    app.state.metrics = health.Metrics()
    app.state.fast_path = fast.Stats()
    if fast_path:  # innermost of the middleware: inside the body limit and the metrics
        app.add_middleware(fast.FastPath, service=app, stats=app.state.fast_path)
    problems.install(app)
    app.add_middleware(health.Measure, metrics=app.state.metrics)
    app.include_router(health.router)
    app.include_router(routes_cases.router)
    app.include_router(routes_chain.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_bulk.router)
    app.include_router(routes_login.router)
    app.include_router(routes_workflows.router)
    app.include_router(routes_inbox.router)
    app.include_router(routes_search.router)
    app.include_router(reference.router)
    openapi.install(app)
    app.mount("/static", StaticFiles(packages=[("opsflow.service", "static")]), name="static")
    board.install(app)  # the web board's pages, and every answer's security headers
    return app


def _prepare(engine: Any) -> None:
    """Check the schema and load what every request needs, before the first request."""
    try:
        budget.apply(engine)  # every request's time budget (before any connection opens)
        engine.db.ensure_schema()  # as the CLI does: SQLite and an empty database upgrade
        _ = engine.plugins, engine.definitions
    except OpsflowError as exc:  # /readyz answers 503 until it is fixed
        log.error("the service is not ready: %s", exc.message)
