"""The worker's deadline claims: exactly once with many workers, nothing half done when killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from opsflow.store import tables as t

DEADLINES = 120
WORKERS = 4
LATER = "2026-01-08T09:00:00+00:00"  # three days after the test clock: every 2d SLA is due


RACE = """\
workflow: race
version: 1
fields: {title: {type: string}}
states:
  waiting: {initial: true, sla: {within: 1h, fire: expire}}
  expired: {final: true}
transitions:
  - {event: expire, from: waiting, to: expired}
"""


CYCLE = """\
workflow: cycle
version: 1
fields: {period: {type: string, required: true}}
states:
  open: {initial: true}
  closed: {final: true}
transitions:
  - {event: close, from: open, to: closed}
schedule: {cron: "0 9 1 * *", timezone: Asia/Shanghai, data: {period: "{{ previous_month }}"}}
"""


@pytest.fixture
def race_engine(make_engine: Any, workflows_dir: Path) -> Any:
    """An engine whose workflows include ``race``: one SLA per case, no notifications."""
    (workflows_dir / "race.yaml").write_text(RACE, encoding="utf-8")
    return make_engine()


def _waiting_cases(engine: Any, n: int) -> list[str]:
    return [engine.start("race", {"title": f"t{i}"}, actor="ann").id for i in range(n)]


def _cases_in_review(engine: Any, n: int) -> list[str]:
    ids = []
    for i in range(n):
        case = engine.start("review", {"title": f"t{i}"}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")
        ids.append(case.id)
    return ids


def _timer_entries(engine: Any) -> Counter[str]:
    with engine.db.read() as conn:
        rows = conn.execute(
            select(t.history.c.case_id).where(t.history.c.kind == "timer")
        ).scalars()
        return Counter(rows)


def _deadline_statuses(engine: Any) -> Counter[str]:
    with engine.db.read() as conn:
        return Counter(conn.execute(select(t.deadlines.c.status)).scalars())


def _assert_fired_exactly_once(engine: Any, ids: list[str], rearmed: bool = False) -> None:
    timers = _timer_entries(engine)
    assert set(timers) == set(ids)
    assert set(timers.values()) == {1}, [c for c, n in timers.items() if n != 1]
    statuses = _deadline_statuses(engine)
    assert statuses["fired"] == len(ids)
    # review's escalate re-enters review, which arms a new (not yet due) SLA
    assert statuses.get("pending", 0) == (len(ids) if rearmed else 0)
    assert statuses.get("cancelled", 0) == 0
    checked, problems = engine.audit_verify()
    assert checked >= len(ids)
    assert problems == []


@pytest.mark.slow
def test_four_worker_threads_fire_each_of_120_deadlines_once(
    race_engine: Any, make_engine: Any, clock: Any
) -> None:
    setup = race_engine
    ids = _waiting_cases(setup, DEADLINES)
    clock.advance(days=3)
    workers = [make_engine() for _ in range(WORKERS)]
    reports: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def work(engine: Any) -> None:
        try:
            barrier.wait()
            reports.append(engine.fire_due_deadlines())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.perf_counter() - started
    assert not errors, errors
    assert sum(r.deadlines_fired for r in reports) == DEADLINES
    assert sum(r.deadlines_skipped for r in reports) == 0
    _assert_fired_exactly_once(setup, ids)
    print(
        f"{WORKERS} threads, {DEADLINES} deadlines: {elapsed:.2f}s, "
        f"per worker {[r.deadlines_fired for r in reports]}"
    )


PROJECT = """\
workflows: workflows/
team: {ann: [author], ed: [editor]}
channels:
  chat: {notifier: file, path: chat.jsonl}
"""


def _project(tmp_path: Path, workflows_dir: Path, db_url: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "opsflow.yaml").write_text(PROJECT + f"database: '{db_url}'\n", encoding="utf-8")
    (root / "workflows").symlink_to(workflows_dir)
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    return {**env, "OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", **extra}


def _worker(root: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsflow", "worker", *args],
        cwd=root,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_four_worker_processes_fire_each_deadline_and_start_each_tick_once(
    race_engine: Any, db_url: str, workflows_dir: Path, tmp_path: Path
) -> None:
    import json

    (workflows_dir / "cycle.yaml").write_text(CYCLE, encoding="utf-8")  # its tick races too
    setup = race_engine
    ids = _waiting_cases(setup, DEADLINES)
    root = _project(tmp_path, workflows_dir, db_url)
    started = time.perf_counter()
    procs = [_worker(root, "--once", "--json", OPSFLOW_NOW=LATER) for _ in range(WORKERS)]
    results = [p.communicate(timeout=120) for p in procs]
    elapsed = time.perf_counter() - started
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    reports = [json.loads(out) for out, _err in results]
    assert sum(r["deadlines_fired"] for r in reports) == DEADLINES
    _assert_fired_exactly_once(setup, ids)
    assert sum(r["cases_started"] for r in reports) == 1
    assert [c.data["period"] for c in setup.cases(workflow="cycle")] == ["2025-12"]
    # every item was logged by the worker that did it, one logfmt line each
    fired_lines = [
        line for _out, err in results for line in err.splitlines() if "outcome=fired" in line
    ]
    assert len(fired_lines) == DEADLINES
    assert all("kind=deadline" in line and "case=" in line for line in fired_lines)
    print(
        f"{WORKERS} processes, {DEADLINES} deadlines: {elapsed:.2f}s, "
        f"per worker {[r['deadlines_fired'] for r in reports]}"
    )


SLOW_PLUGIN = """\
import os, time
from pathlib import Path
import opsflow

@opsflow.hookimpl
def before_transition(case, transition, actor):
    marker = os.environ.get("SLOW_MARKER")
    if marker and transition["event"] == "escalate":
        Path(marker).touch()
        time.sleep(120)
    return None
"""


@pytest.mark.slow
def test_worker_killed_mid_deadline_leaves_nothing_half_done(
    make_engine: Any, db_url: str, workflows_dir: Path, tmp_path: Path
) -> None:
    setup = make_engine()
    ids = _cases_in_review(setup, 5)
    root = _project(tmp_path, workflows_dir, db_url)
    (root / "plugins").mkdir()
    (root / "plugins" / "slow.py").write_text(textwrap.dedent(SLOW_PLUGIN), encoding="utf-8")
    marker = tmp_path / "in-hook"
    victim = _worker(root, "--once", OPSFLOW_NOW=LATER, SLOW_MARKER=str(marker))
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert victim.poll() is None, victim.communicate()
            assert time.monotonic() < deadline, "the worker never reached the hook"
            time.sleep(0.02)
        # inside the deadline's transaction: the step is computed, nothing committed
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert victim.returncode == -signal.SIGKILL
    assert _timer_entries(setup) == Counter()
    assert _deadline_statuses(setup)["pending"] == 5
    with setup.db.read() as conn:
        assert (
            conn.execute(select(t.outbox.c.id).where(t.outbox.c.event == "escalate")).first()
            is None
        )
    rescuer = _worker(root, "--once", "--json", OPSFLOW_NOW=LATER)
    _out, err = rescuer.communicate(timeout=60)
    assert rescuer.returncode == 0, err
    _assert_fired_exactly_once(setup, ids, rearmed=True)
    with setup.db.read() as conn:
        escalations = conn.execute(
            select(t.outbox.c.case_id).where(t.outbox.c.event == "escalate")
        ).scalars()
        # escalate's own notice and review's on_enter notice, once each, none lost
        assert Counter(escalations) == Counter({case_id: 2 for case_id in ids})


def test_stale_deadline_is_cancelled_not_fired(engine: Any, clock: Any) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "cancel", actor="ed")
    clock.advance(days=3)
    report = engine.fire_due_deadlines()
    assert (report.deadlines_fired, report.deadlines_skipped) == (0, 0)
    assert _timer_entries(engine) == Counter()


def test_unexpected_error_backs_off_then_gives_up(
    make_engine: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsflow.engine import persist
    from opsflow.engine.incidents import MAX_ATTEMPTS

    engine = make_engine()
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    other = engine.start("review", {"title": "y"}, actor="ann")
    engine.fire(other.id, "submit", actor="ann")
    clock.advance(days=3)
    real = persist.flush

    def broken(conn: Any, wf: Any, case_: Any, *args: Any, **kwargs: Any) -> Any:
        if case_.id == case.id:
            raise RuntimeError("plugin bug")
        return real(conn, wf, case_, *args, **kwargs)

    monkeypatch.setattr(persist, "flush", broken)
    report = engine.fire_due_deadlines()
    # the broken one is held back; the next one in the queue still fires
    assert (report.deadlines_fired, report.deadlines_skipped) == (1, 1)
    assert "RuntimeError: plugin bug" in report.errors[0]
    assert engine.fire_due_deadlines().deadlines_skipped == 0  # backing off
    (incident,) = engine.incidents()
    assert (incident.kind, incident.status, incident.attempts) == ("sla", "retrying", 1)
    for _ in range(MAX_ATTEMPTS - 1):
        clock.advance(hours=24)
        assert engine.fire_due_deadlines().deadlines_skipped == 1
    with engine.db.read() as conn:
        row = conn.execute(select(t.deadlines).where(t.deadlines.c.case_id == case.id)).one()
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert "plugin bug" in row.note
    (incident,) = engine.incidents()
    assert (incident.status, incident.attempts) == ("open", MAX_ATTEMPTS)
    assert incident.case_id == case.id
    assert "RuntimeError: plugin bug" in incident.error
    timers = _timer_entries(engine)
    assert case.id not in timers
    assert timers[other.id] >= 1


def test_stop_request_ends_the_pass_after_the_item_in_hand(engine: Any, clock: Any) -> None:
    _cases_in_review(engine, 3)
    clock.advance(days=3)
    calls = iter([False, True])
    report = engine.fire_due_deadlines(stop=lambda: next(calls))
    assert report.deadlines_fired == 1
    assert engine.run_due().deadlines_fired == 2


@pytest.mark.skipif(
    not os.environ.get("OPSFLOW_TEST_POSTGRES_URL"), reason="OPSFLOW_TEST_POSTGRES_URL is not set"
)
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite: one writer at a time
def test_a_deadline_on_a_case_being_fired_is_left_for_later(make_engine: Any, clock: Any) -> None:
    """PostgreSQL: a worker skips a case another transaction holds (no waiting, no deadlock)."""
    engine = make_engine()
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    clock.advance(days=3)
    assert engine.db.row_locks
    with engine.db.write() as conn:
        conn.execute(update(t.cases).where(t.cases.c.id == case.id).values(updated_at=clock()))
        assert make_engine().fire_due_deadlines().deadlines_fired == 0
    assert engine.fire_due_deadlines().deadlines_fired == 1
