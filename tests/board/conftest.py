"""The board through FastAPI's TestClient on each backend, with real logins (passwords).

``board`` gives a client and its engine (the team has passwords); ``boardkit`` has the
helpers (``login``, ``text_of``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from boardkit import BASE, give_passwords
from fastapi.testclient import TestClient

from opsflow.service import create_app


@pytest.fixture
def board(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on the real app (no stand-in identity); the team has passwords."""
    engine = make_engine()
    engine.db.ensure_schema()
    give_passwords(engine)
    app = create_app(engine)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client, engine


@pytest.fixture
def client(board: tuple[TestClient, Any]) -> TestClient:
    return board[0]
