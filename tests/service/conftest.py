"""The HTTP API through FastAPI's TestClient, on each backend, with one Engine per app.

Tokens here are stand-ins: ``Bearer NAME`` acts as NAME, ``Bearer NAME:ro`` as NAME with a
read-only token. The real token check (``opsflow.engine.identity``) has tests of its own.
``oidc_issuer`` is a real OpenID Connect issuer on 127.0.0.1 (``oidc_issuer.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes import fake_identity
from fastapi.testclient import TestClient
from oidc_issuer import OidcIssuer, running_issuer
from served import Served, serve_project

from local_services import postgres_schema
from opsflow.engine.oidc import forget_cached
from opsflow.service import create_app
from opsflow.service.auth import identity

POSTGRES_URL = os.environ.get("OPSFLOW_TEST_POSTGRES_URL")


@pytest.fixture
def service(make_engine: Callable[..., Any]) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on a fresh app and its engine."""
    engine = make_engine()
    app = create_app(engine)
    app.dependency_overrides[identity] = fake_identity
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, engine


@pytest.fixture
def client(service: tuple[TestClient, Any]) -> TestClient:
    return service[0]


@pytest.fixture
def oidc_issuer(clock: Any) -> Iterator[OidcIssuer]:
    """A real OpenID Connect issuer on 127.0.0.1 on a free port, its tokens on the fake clock.

    It auto-approves ``issuer.user`` (``{"preferred_username": "ann"}``); the client is
    ``opsflow`` with the secret ``issuer-test-secret``.
    """
    forget_cached()  # a port, and so an issuer address, may be used again by a later test
    with running_issuer(clock=clock) as issuer:
        yield issuer
    forget_cached()


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=pytest.mark.skipif(
                not POSTGRES_URL, reason="OPSFLOW_TEST_POSTGRES_URL is not set"
            ),
        ),
    ],
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A real ``opsflow serve`` (tests/service/served.py) per module and backend, real tokens."""
    root = tmp_path_factory.mktemp("served")
    if request.param == "sqlite":
        server = serve_project(f"sqlite:///{root / 'opsflow.db'}", root)
        yield server
        server.stop()
        return
    assert POSTGRES_URL
    with postgres_schema(POSTGRES_URL) as url:
        server = serve_project(url, root)
        yield server
        server.stop()
