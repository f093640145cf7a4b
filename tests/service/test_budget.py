"""Every request's time budget: a request stuck behind a lock answers 503 with Retry-After,
having written nothing (PostgreSQL's statement timeout, SQLite's busy timeout)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from opsflow.errors import ConfigError
from opsflow.service import create_app
from opsflow.service.auth import identity
from opsflow.service.budget import DEFAULT_REQUEST_TIMEOUT_S, request_timeout
from service.conftest import fake_identity

ANN = {"Authorization": "Bearer ann"}


@contextmanager
def case_locked(engine: Any, db_url: str, case_id: str) -> Iterator[None]:
    """Another process holds the case: its row lock (PostgreSQL) or the write lock (SQLite)."""
    if engine.db.is_sqlite:
        other = sqlite3.connect(sa.make_url(db_url).database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    holder = sa.create_engine(db_url)
    with holder.connect() as conn, conn.begin():
        conn.execute(sa.text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case_id})
        yield
    holder.dispose()


def test_a_request_past_its_budget_is_503_and_writes_nothing(
    make_engine: Callable[..., Any], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_REQUEST_TIMEOUT", "0.3")
    monkeypatch.setenv("OPSFLOW_BUSY_TIMEOUT", "0.3")
    engine = make_engine()
    app = create_app(engine)
    app.dependency_overrides[identity] = fake_identity
    with TestClient(app, raise_server_exceptions=False) as client:
        if not engine.db.is_sqlite:
            assert engine.db.statement_timeout_ms == 300
        started = client.post(
            "/v1/cases", json={"workflow": "review", "data": {"title": "t"}}, headers=ANN
        )
        case_id = started.json()["id"]
        before = engine.get(case_id).to_json(), [e.to_json() for e in engine.history(case_id)]
        with case_locked(engine, db_url, case_id):
            answer = client.patch(f"/v1/cases/{case_id}/data", json={"score": 1}, headers=ANN)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "1"
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "busy"
        after = engine.get(case_id).to_json(), [e.to_json() for e in engine.history(case_id)]
        assert after == before
        again = client.patch(f"/v1/cases/{case_id}/data", json={"score": 1}, headers=ANN)
        assert again.status_code == 200, again.text  # the lock gone, the same request works


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(None, DEFAULT_REQUEST_TIMEOUT_S), ("", DEFAULT_REQUEST_TIMEOUT_S), ("2.5", 2.5), ("0", None)],
)
def test_the_budget_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, seconds: float | None
) -> None:
    if raw is not None:
        monkeypatch.setenv("OPSFLOW_REQUEST_TIMEOUT", raw)
    assert request_timeout() == seconds


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "1e9"])
def test_a_bad_budget_is_a_config_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("OPSFLOW_REQUEST_TIMEOUT", raw)
    with pytest.raises(ConfigError, match="OPSFLOW_REQUEST_TIMEOUT"):
        request_timeout()
