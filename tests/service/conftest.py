"""The HTTP API through FastAPI's TestClient, on each backend, with one Engine per app.

Tokens here are stand-ins: ``Bearer NAME`` acts as NAME, ``Bearer NAME:ro`` as NAME with a
read-only token. The real token check (``opsflow.engine.identity``) has tests of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

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
