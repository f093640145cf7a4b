"""The board through FastAPI's TestClient on each backend, with real logins (passwords).

``board`` gives a client and its engine (the team has passwords); ``boardkit`` has the
helpers (``login``, ``text_of``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from boardkit import board_on
from fastapi.testclient import TestClient


@pytest.fixture
def board(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on the real app (no stand-in identity); the team has passwords."""
    with board_on(make_engine()) as pair:
        yield pair


@pytest.fixture
def client(board: tuple[TestClient, Any]) -> TestClient:
    return board[0]
