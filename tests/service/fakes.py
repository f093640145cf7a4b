"""Stand-in identities for tests of the HTTP API through FastAPI's TestClient.

``Bearer NAME`` acts as NAME and ``Bearer NAME:ro`` as NAME with a read-only token. The
real token check (``opsflow.engine.identity``) and sessions have tests of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from opsflow.service.auth import bearer_token


@dataclass(frozen=True)
class FakeIdentity:
    actor: str
    read_only: bool
    prefix: str


def fake_identity(request: Request) -> FakeIdentity:
    token = bearer_token(request)  # the real header parsing: no token is 401
    actor, _, mode = token.partition(":")
    return FakeIdentity(actor=actor, read_only=mode == "ro", prefix=f"opsf_{actor}")
