"""Sessions and failed-login counts in the engine (engine/sessions.py, engine/logins.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from opsflow.engine import logins, sessions
from opsflow.engine.identity import set_password
from opsflow.errors import NotAuthenticated, RateLimited
from opsflow.store import tables


def failures(engine: Any) -> dict[str, Any]:
    with engine.db.read() as conn:
        return {r.subject: r for r in conn.execute(select(tables.login_failures))}


def session_count(engine: Any) -> int:
    with engine.db.read() as conn:
        return len(list(conn.execute(select(tables.sessions))))


@pytest.mark.parametrize(
    ("count", "wait"),
    [(1, None), (4, None), (5, 30), (6, 60), (7, 120), (11, 1920), (12, 3600), (500, 3600)],
)
def test_the_wait_doubles_past_the_limit_up_to_an_hour(count: int, wait: int | None) -> None:
    found = logins.wait_after(count, logins.PER_USER)
    assert found == (timedelta(seconds=wait) if wait is not None else None)


def test_failures_further_apart_than_the_window_start_again(engine: Any, clock: Any) -> None:
    engine.db.ensure_schema()
    for _ in range(4):
        logins.record_failure(engine, "ann", "10.0.0.1")
    clock.advance(minutes=15)
    logins.record_failure(engine, "ann", "10.0.0.1")
    rows = failures(engine)
    assert rows["user:ann"].failures == 1
    assert rows["user:ann"].blocked_until is None
    assert rows["addr:10.0.0.1"].failures == 1
    logins.check_throttle(engine, "ann", "10.0.0.1")  # not blocked


def test_a_block_ends_and_then_the_next_failure_waits_longer(engine: Any, clock: Any) -> None:
    engine.db.ensure_schema()
    for _ in range(5):
        logins.record_failure(engine, "ann", None)
    with pytest.raises(RateLimited) as blocked:
        logins.check_throttle(engine, "ann", None)
    assert blocked.value.retry_after == 30
    clock.advance(seconds=30)
    logins.check_throttle(engine, "ann", None)
    logins.record_failure(engine, "ann", None)
    with pytest.raises(RateLimited) as longer:
        logins.check_throttle(engine, "ann", None)
    assert longer.value.retry_after == 60


def test_counts_untouched_for_a_day_are_forgotten(engine: Any, clock: Any) -> None:
    engine.db.ensure_schema()
    logins.record_failure(engine, "someone-made-up", "10.0.0.7")
    clock.advance(days=1, seconds=1)
    logins.record_failure(engine, "ann", "10.0.0.8")
    assert set(failures(engine)) == {"user:ann", "addr:10.0.0.8"}


def test_concurrent_failures_all_count(make_engine: Any) -> None:
    hosts = [make_engine() for _ in range(4)]
    hosts[0].db.ensure_schema()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def fail(engine: Any) -> None:
        try:
            barrier.wait()
            logins.record_failure(engine, "ann", "10.0.0.1")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail, args=(hosts[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = failures(hosts[0])
    assert rows["user:ann"].failures == 8
    assert rows["addr:10.0.0.1"].failures == 8


def test_a_success_clears_the_names_count_only(engine: Any) -> None:
    engine.db.ensure_schema()
    set_password(engine, "ann", "correct horse battery staple")
    with pytest.raises(NotAuthenticated):
        logins.password_login(engine, "ann", "wrong password here", "10.0.0.1")
    session_id, session = logins.password_login(
        engine, "ann", "correct horse battery staple", "10.0.0.1"
    )
    assert session.actor == "ann"
    assert sessions.authenticate_session(engine, session_id).actor == "ann"
    assert set(failures(engine)) == {"addr:10.0.0.1"}


def test_ending_sessions(engine: Any, clock: Any) -> None:
    engine.db.ensure_schema()
    first, _ = sessions.create_session(engine, "ann", "password")
    second, _ = sessions.create_session(engine, "ann", "oidc")
    eds, _ = sessions.create_session(engine, "ed", "password")
    assert sessions.end_session(engine, first) is True
    assert sessions.end_session(engine, first) is False  # already ended
    assert sessions.end_session(engine, "not-a-session") is False
    assert sessions.end_sessions_of(engine, "ann") == 1
    for ended in (first, second):
        with pytest.raises(NotAuthenticated):
            sessions.authenticate_session(engine, ended)
    assert sessions.authenticate_session(engine, eds).actor == "ed"


def test_a_persons_long_gone_sessions_are_deleted_at_their_next_login(
    engine: Any, clock: Any
) -> None:
    engine.db.ensure_schema()
    old, _ = sessions.create_session(engine, "ann", "password")
    sessions.create_session(engine, "ed", "password")
    sessions.end_session(engine, old)
    clock.advance(days=30, seconds=1)
    sessions.create_session(engine, "ann", "password")
    assert session_count(engine) == 2  # ann's new one and ed's (another person's: kept)


def test_the_csrf_token_belongs_to_its_session() -> None:
    a, b = "A" * 43, "B" * 43
    assert sessions.csrf_matches(a, sessions.csrf_token_of(a))
    assert not sessions.csrf_matches(a, sessions.csrf_token_of(b))
    assert not sessions.csrf_matches(a, None)
    assert not sessions.csrf_matches(a, "")
    assert not sessions.csrf_matches(a, "é" * 43)
    assert sessions.csrf_token_of(a) != a
