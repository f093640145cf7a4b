"""Helpers of the board's tests: logging a browser in, and a page's visible text."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from opsflow.engine import identity

PASSWORD = "correct horse battery staple"
PEOPLE = ("ann", "ed", "eve", "lou", "bea", "pat", "dir", "both")
BASE = "http://127.0.0.1:8000"  # as a browser on the served board would send Origin


@functools.cache
def password_hash() -> str:
    """:data:`PASSWORD` as ``set_password`` hashes it (argon2id), made once per process."""
    return identity._hasher().hash(identity._normal(PASSWORD))


def give_passwords(engine: Any) -> None:
    """Everyone of :data:`PEOPLE` logs in with :data:`PASSWORD` (set_password's hash, made
    once: each argon2 hash costs ~0.15 s, eight a test add up)."""
    for name in PEOPLE:
        identity._store_hash(engine, name, password_hash())


@contextlib.contextmanager
def board_on(engine: Any) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on the real app over ``engine`` (no stand-in identity), passwords set."""
    from opsflow.service import create_app

    engine.db.ensure_schema()
    give_passwords(engine)
    with TestClient(create_app(engine), base_url=BASE, raise_server_exceptions=False) as client:
        yield client, engine


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log ``client`` in as ``name`` through the login form; the session's CSRF token."""
    answer = client.post(
        "/login",
        data={"username": name, "password": password, "next": "/inbox"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_token(client)


def csrf_token(client: TestClient) -> str:
    """The CSRF token of the client's session (``GET /v1/session``)."""
    token: str = client.get("/v1/session").json()["csrf_token"]
    return token


def text_of(html: str) -> str:
    """The visible text of an HTML page, roughly: tags dropped, spaces folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@contextlib.contextmanager
def counted_queries(engine: Any) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block (every connection of its pool)."""
    statements: list[str] = []
    target = engine.db.engine

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(target, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(target, "before_cursor_execute", seen)
