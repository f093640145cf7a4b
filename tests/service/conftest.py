"""The HTTP API through FastAPI's TestClient, on each backend, with one Engine per app.

Tokens here are stand-ins: ``Bearer NAME`` acts as NAME, ``Bearer NAME:ro`` as NAME with a
read-only token. The real token check (``opsflow.engine.identity``) has tests of its own.
``oidc_issuer`` is a real OpenID Connect issuer on 127.0.0.1 (``oidc_issuer.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from oidc_issuer import OidcIssuer, running_issuer

from opsflow.engine.oidc import forget_cached
from opsflow.service import create_app
from opsflow.service.auth import bearer_token, identity


@dataclass(frozen=True)
class FakeIdentity:
    actor: str
    read_only: bool
    prefix: str


def fake_identity(request: Request) -> FakeIdentity:
    token = bearer_token(request)  # the real header parsing: no token is 401
    actor, _, mode = token.partition(":")
    return FakeIdentity(actor=actor, read_only=mode == "ro", prefix=f"opsf_{actor}")


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
