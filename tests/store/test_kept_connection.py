"""The connection each thread keeps: reused, returned when the thread ends, rebuilt after a
loss, never shared with a forked child, and transactions inside transactions still work."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text


def _checked_out(engine: Any) -> int:
    return int(engine.db.engine.pool.checkedout())


def test_fires_on_one_thread_reuse_one_connection(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    assert _checked_out(engine) == 1
    for _ in range(5):
        engine.set(case.id, {"score": 1}, actor="ed")
        engine.get(case.id)
    assert _checked_out(engine) == 1


def test_a_thread_gives_its_connection_back_when_it_ends(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    before = _checked_out(engine)

    def work() -> None:
        engine.set(case.id, {"score": 2}, actor="ed")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    gc.collect()
    assert _checked_out(engine) == before
    assert engine.get(case.id).data["score"] == 2


def test_many_threads_do_not_exhaust_the_pool(engine: Any) -> None:
    """More live threads than the pool's size and overflow together: the first few keep a
    connection, the others check one out per transaction."""
    case = engine.start("review", {"title": "t"}, actor="ann")
    errors: list[BaseException] = []
    finished: list[int] = []
    done = threading.Event()

    def work(n: int) -> None:
        try:
            engine.set(case.id, {"score": n}, actor="ed")
            finished.append(n)
            done.wait(60)  # the thread, and any connection it keeps, stays alive meanwhile
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(finished) + len(errors) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(finished) == list(range(20))


def test_a_transaction_inside_another_uses_its_own_connection(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    with engine.db.write() as outer:
        outer.execute(text("SELECT 1"))
        with engine.db.read() as inner:
            assert inner is not outer
            inner.execute(text("SELECT 1"))
    assert engine.get(case.id).state == "draft"


def test_a_failed_transaction_leaves_the_connection_usable(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    with (
        pytest.raises(Exception, match="no such|does not exist|syntax"),
        engine.db.write() as conn,
    ):
        conn.execute(text("SELECT * FROM no_such_table"))
    engine.fire(case.id, "submit", actor="ann")
    assert engine.get(case.id).state == "review"


def test_dispose_returns_every_kept_connection(engine: Any) -> None:
    engine.start("review", {"title": "t"}, actor="ann")
    engine.close()
    assert _checked_out(engine) == 0
    engine.start("review", {"title": "again"}, actor="ann")  # usable after close


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    pid = os.fork()
    if pid == 0:  # the child: fire through the parent's engine object
        code = 0
        try:
            engine.set(case.id, {"score": 7}, actor="ed")
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's kept connection is untouched by the child
    engine.set(case.id, {"score": 8}, actor="ed")
    assert engine.get(case.id).data["score"] == 8
    assert [e.data_changes.get("score", {}).get("to") for e in engine.history(case.id)][-2:] == [
        7,
        8,
    ]


def test_a_connection_lost_while_idle_is_replaced(make_engine: Any, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: a server-side connection loss")
    engine = make_engine()
    case = engine.start("review", {"title": "t"}, actor="ann")
    with engine.db.read() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    killer = make_engine()
    with killer.db.write() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    engine.fire(case.id, "submit", actor="ann")  # retried on a new connection
    assert engine.get(case.id).state == "review"
