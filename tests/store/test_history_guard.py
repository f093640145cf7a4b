"""PostgreSQL refuses UPDATE, DELETE and TRUNCATE on history (triggers from the migrations)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from opsflow.store import tables as t


@pytest.fixture
def pg_engine(engine: Any, db_url: str) -> Any:
    if not db_url.startswith("postgresql"):
        pytest.skip("the history triggers are PostgreSQL's (SQLite is a local file)")
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return engine


@pytest.mark.parametrize(
    "statement",
    [
        update(t.history).values(actor="mallory"),
        delete(t.history),
    ],
    ids=["update", "delete"],
)
def test_history_rows_cannot_be_changed_or_deleted(pg_engine: Any, statement: Any) -> None:
    with (
        pytest.raises(DBAPIError, match="history is append-only"),
        pg_engine.db.engine.begin() as conn,
    ):
        conn.execute(statement)
    _assert_intact(pg_engine)


def test_history_cannot_be_truncated(pg_engine: Any) -> None:
    with (
        pytest.raises(DBAPIError, match="history is append-only: TRUNCATE"),
        pg_engine.db.engine.begin() as conn,
    ):
        conn.exec_driver_sql("TRUNCATE history")
    _assert_intact(pg_engine)


def test_appending_still_works(pg_engine: Any) -> None:
    (case,) = pg_engine.cases()
    pg_engine.fire(case.id, "cancel", actor="ed")
    assert len(pg_engine.history(case.id)) == 3
    _assert_intact(pg_engine)


def _assert_intact(engine: Any) -> None:
    with engine.db.read() as conn:
        actors = conn.execute(select(t.history.c.actor)).scalars().all()
    assert "mallory" not in actors
    assert len(actors) >= 2
    assert engine.audit_verify()[1] == []
