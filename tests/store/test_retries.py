"""PostgreSQL serialization failures and deadlocks: the step runs again, with backoff."""

from __future__ import annotations

import os
from typing import Any

import pytest

POSTGRES_URL = os.environ.get("OPSFLOW_TEST_POSTGRES_URL")

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="OPSFLOW_TEST_POSTGRES_URL is not set")


def _raise_once(monkeypatch: pytest.MonkeyPatch, sqlstate: str) -> list[str]:
    """Make the next step's flush fail once with ``sqlstate``, raised by the server itself."""
    from sqlalchemy import text

    from opsflow.engine import persist

    real = persist.flush
    calls: list[str] = []

    def flush(conn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(sqlstate)
        if len(calls) == 1:
            conn.execute(
                text(
                    "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '"
                    + sqlstate
                    + "'; END $$"
                )
            )
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(persist, "flush", flush)
    return calls


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_rolled_back_step_runs_again(
    make_engine: Any, monkeypatch: pytest.MonkeyPatch, sqlstate: str
) -> None:
    engine = make_engine()
    case = engine.start("review", {"title": "x"}, actor="ann")
    calls = _raise_once(monkeypatch, sqlstate)
    result = engine.fire(case.id, "submit", actor="ann")
    assert result.case.state == "review"
    assert calls == [sqlstate, sqlstate]  # the first attempt failed, the second committed
    assert [h.event for h in engine.history(case.id)] == [None, "submit"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_step_that_keeps_deadlocking_is_a_conflict(
    make_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from opsflow.engine import persist
    from opsflow.errors import Conflict

    engine = make_engine()
    case = engine.start("review", {"title": "x"}, actor="ann")

    def flush(conn: Any, *args: Any, **kwargs: Any) -> Any:
        conn.execute(text("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$"))

    monkeypatch.setattr(persist, "flush", flush)
    with pytest.raises(Conflict):
        engine.fire(case.id, "submit", actor="ann")
    assert engine.get(case.id).state == "draft"


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_store_names_a_serialization_failure(db_url: str) -> None:
    from sqlalchemy import text

    from opsflow.errors import SerializationFailure
    from opsflow.store import Database

    db = Database(db_url)
    try:
        for code in ("40001", "40P01"):
            with pytest.raises(SerializationFailure), db.write() as conn:
                conn.execute(
                    text(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{code}'; END $$")
                )
    finally:
        db.dispose()
