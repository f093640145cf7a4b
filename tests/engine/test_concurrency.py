"""Concurrent steps on one case: serialised, nothing lost, exactly one winner (SPEC §6)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from opsflow.errors import OpsflowError, Refused

POSTGRES = os.environ.get("OPSFLOW_TEST_POSTGRES_URL")


def _run_threads(target: Any, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            target(index)
        except BaseException as exc:  # collected and asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_concurrent_writers_lose_nothing(make_engine: Any) -> None:
    team = {"ann": ["author"], **{f"w{i}": [] for i in range(4)}}
    engines = [make_engine(team=team) for _ in range(4)]
    case = engines[0].start("review", {"title": "race", "score": 0}, actor="ann")
    per_writer = 15

    def writer(index: int) -> None:
        for n in range(per_writer):
            engines[index].set(case.id, {"score": index * per_writer + n}, actor=f"w{index}")

    assert _run_threads(writer, 4) == []
    entries = engines[0].history(case.id)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    data_entries = [e for e in entries if e.kind == "data"]
    assert len(data_entries) == 4 * per_writer
    assert {e.actor for e in data_entries} == {"w0", "w1", "w2", "w3"}
    assert engines[0].audit_verify()[1] == []
    assert engines[0].get(case.id).row_version == 1 + 4 * per_writer


@pytest.mark.parametrize("attempt", range(3))
def test_racing_events_have_exactly_one_winner(make_engine: Any, attempt: int) -> None:
    engines = [make_engine() for _ in range(2)]
    case = engines[0].start("review", {"title": f"race {attempt}"}, actor="ann")
    results: list[str] = []

    def fire(index: int) -> None:
        try:
            engines[index].fire(case.id, "submit", actor="ann")
            results.append("won")
        except Refused:
            results.append("refused")

    errors = _run_threads(fire, 2)
    assert errors == []
    assert sorted(results) == ["refused", "won"]
    transitions = [e for e in engines[0].history(case.id) if e.kind == "transition"]
    assert len(transitions) == 1


def test_errors_are_opsflow_errors(make_engine: Any) -> None:
    engine = make_engine()
    with pytest.raises(OpsflowError):
        engine.fire("0" * 32, "submit", actor="ann")


def _wait_for_blocked(db: Any, locker: Any, count: int) -> None:
    """Until ``count`` sessions wait, directly or in line, on a lock ``locker`` holds."""
    import time

    from sqlalchemy import text

    query = text(
        "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    )
    pid = locker.execute(text("SELECT pg_backend_pid()")).scalar()
    deadline = time.monotonic() + 30
    while True:
        with db.connect() as conn:  # a new transaction: the activity view is a snapshot
            waiting = dict(conn.execute(query).all())
        blocked = {pid}
        while grown := {w for w, by in waiting.items() if w not in blocked and blocked & set(by)}:
            blocked |= grown
        if len(blocked) > count:
            return
        assert time.monotonic() < deadline, "the fires never waited on the row lock"
        time.sleep(0.05)


@pytest.mark.skipif(not POSTGRES, reason="OPSFLOW_TEST_POSTGRES_URL is not set")
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite locks before the key
def test_keyed_fires_waiting_on_a_held_row_lock_replay(make_engine: Any, db_url: str) -> None:
    """Two fires with one key wait on a locked case: one is taken, the other is replayed."""
    from sqlalchemy import create_engine, select

    from opsflow.store import tables as t

    engines = [make_engine() for _ in range(2)]
    assert engines[0].db.row_locks
    case = engines[0].start("review", {"title": "held"}, actor="ann")
    outcomes: list[str] = []
    other = create_engine(db_url)
    try:
        with other.connect() as locker:
            locker.execute(select(t.cases.c.id).where(t.cases.c.id == case.id).with_for_update())

            errors: list[BaseException] = []

            def fire(index: int) -> None:
                try:
                    result = engines[index].fire(case.id, "submit", actor="ann", key="K")
                except BaseException as exc:  # asserted below
                    errors.append(exc)
                else:
                    outcomes.append(result.outcome)

            threads = [threading.Thread(target=fire, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            _wait_for_blocked(other, locker, 2)
            locker.rollback()  # releases the row
            for thread in threads:
                thread.join(timeout=60)
    finally:
        other.dispose()
    assert errors == []
    assert sorted(outcomes) == ["replayed", "transitioned"]
    transitions = [e for e in engines[0].history(case.id) if e.kind == "transition"]
    assert len(transitions) == 1
