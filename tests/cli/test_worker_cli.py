"""`opsflow worker` and `opsflow db` through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

FIXTURES = Path(__file__).parent.parent / "fixtures"

CYCLE = """\
workflow: cycle
version: 1
fields:
  period: {type: string, required: true}
states:
  open: {initial: true}
  closed: {final: true}
transitions:
  - {event: close, from: open, to: closed}
schedule:
  cron: "0 9 1 * *"
  timezone: Asia/Shanghai
  data: {period: "{{ previous_month }}"}
"""

SLOW_HOOK = """\
import os, time
from pathlib import Path
import opsflow

@opsflow.hookimpl
def before_transition(case, transition, actor):
    marker = os.environ.get("SLOW_MARKER")
    if marker and transition["event"] == "escalate":
        Path(marker).touch()
        time.sleep(float(os.environ.get("SLOW_SECONDS", "1")))
    return None
"""


@pytest.fixture
def root(tmp_path: Path, db_url: str) -> Path:
    """A project on the test database with the review and cycle workflows."""
    project = tmp_path / "proj"
    (project / "workflows").mkdir(parents=True)
    (project / "workflows" / "review.yaml").write_bytes(
        (FIXTURES / "engine" / "review.yaml").read_bytes()
    )
    (project / "workflows" / "cycle.yaml").write_text(CYCLE, encoding="utf-8")
    (project / "opsflow.yaml").write_text(
        f"database: '{db_url}'\nworkflows: workflows/\n"
        "team: {ann: [author], ed: [editor]}\n"
        "channels:\n  chat: {notifier: file, path: chat.jsonl}\n",
        encoding="utf-8",
    )
    return project


def _cli(root: Path, *args: str, **env: str) -> Result:
    from opsflow.cli import cli

    return CliRunner().invoke(
        cli, ["--config", str(root / "opsflow.yaml"), *args], env=env, catch_exceptions=False
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    return {**env, "OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1", **extra}


def _process(root: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsflow", *args],
        cwd=root,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# Every test here runs on a fixed clock: the engine's and the CLI's (OPSFLOW_NOW) alike.
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _at(**delta: float) -> str:
    """An ``OPSFLOW_NOW`` value ``delta`` after the tests' fixed start."""
    return (START + timedelta(**delta)).isoformat()


def _engine(root: Path) -> Any:
    from opsflow.facade import Engine

    return Engine.from_config(root / "opsflow.yaml", clock=lambda: START)


def test_db_upgrade_and_current(root: Path, db_url: str) -> None:
    from opsflow.store.migrate import HEAD

    before = _cli(root, "db", "current", "--json")
    assert before.exit_code == 1
    assert json.loads(before.stdout)["current"] is None
    assert "run 'opsflow db upgrade'" in before.stderr
    upgraded = _cli(root, "db", "upgrade", "--json")
    assert upgraded.exit_code == 0, upgraded.output
    doc = json.loads(upgraded.stdout)
    assert (doc["previous"], doc["current"], doc["changed"]) == (None, HEAD, True)
    assert "password" not in doc["database"]
    again = _cli(root, "db", "upgrade")
    assert f"up to date ({HEAD})" in again.stdout
    now = _cli(root, "db", "current", "--json")
    assert now.exit_code == 0
    assert json.loads(now.stdout) == {
        "database": json.loads(now.stdout)["database"],
        "current": HEAD,
        "head": HEAD,
        "up_to_date": True,
    }


def test_a_newer_schema_is_refused_by_every_command(root: Path) -> None:
    from opsflow.store import Database
    from opsflow.store.migrate import HEAD, VERSION_TABLE

    assert _cli(root, "db", "upgrade").exit_code == 0
    db = Database(_engine(root).settings.db_url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '0042'")
    db.dispose()
    for args in (["cases"], ["worker", "--once"], ["db", "upgrade"]):
        result = _cli(root, *args)
        assert result.exit_code == 1, (args, result.output)
        assert (
            f"error: database schema is at 0042, newer than this opsflow (which knows up to "
            f"{HEAD}); upgrade opsflow"
        ) in result.stderr


def test_worker_once_logs_each_item_and_reports_the_pass(root: Path) -> None:
    engine = _engine(root)
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    result = _cli(root, "worker", "--once", "--json", OPSFLOW_NOW=_at(days=10))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cases_started"] == 1
    assert report["deadlines_fired"] == 1
    assert report["delivered"] == 3  # review's two notices for the case, none for the cycle
    lines = result.stderr.splitlines()
    fired = [line for line in lines if "kind=deadline" in line]
    assert len(fired) == 1
    assert f"case={case.id}" in fired[0]
    assert "event=escalate" in fired[0]
    assert "outcome=fired" in fired[0]
    assert fired[0].startswith("time=")
    assert "worker=" in fired[0]
    started = [line for line in lines if "kind=schedule" in line]
    assert len(started) == 1
    assert "workflow=cycle" in started[0]
    assert "outcome=started" in started[0]
    as_json = _cli(root, "worker", "--once", "--log-format", "json", OPSFLOW_NOW=_at(days=56))
    assert as_json.exit_code == 0, as_json.output
    records = [json.loads(line) for line in as_json.stderr.splitlines() if line.startswith("{")]
    assert {"time", "level", "worker", "kind", "outcome"} <= set(records[0])
    assert any(r["kind"] == "schedule" and r["outcome"] == "started" for r in records)
    assert "1 scheduled case(s) started" in as_json.stdout


@pytest.mark.slow
def test_sigterm_mid_pass_finishes_the_item_and_exits_0(root: Path, tmp_path: Path) -> None:
    engine = _engine(root)
    ids = []
    for i in range(4):
        case = engine.start("review", {"title": f"t{i}"}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")
        ids.append(case.id)
    (root / "plugins").mkdir()
    (root / "plugins" / "slow.py").write_text(SLOW_HOOK, encoding="utf-8")
    marker = tmp_path / "in-hook"
    proc = _process(
        root,
        "worker",
        "--interval",
        "60",
        OPSFLOW_NOW=_at(days=10),
        SLOW_MARKER=str(marker),
        SLOW_SECONDS="1.5",
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the worker never reached a deadline"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "worker stopped" in err
    fired = [c for c in ids if any(h.kind == "timer" for h in engine.history(c))]
    assert len(fired) == 1  # the item in hand was finished; the rest wait for the next worker
    assert engine.audit_verify()[1] == []


NAG = """\
workflow: nag
version: 1
fields:
  title: {type: string}
  remind_at: {type: datetime}
states:
  open: {initial: true, timer: {at: remind_at, fire: remind}}
  done: {final: true}
transitions:
  - event: remind
    from: open
    to: open
    do: [{notify: {channel: chat, to: ann, message: "reminder {{ title }}"}}]
  - {event: finish, from: open, to: done}
"""


def test_worker_once_returns_when_a_timer_re_enters_its_state(root: Path) -> None:
    """An ``at:`` timer in the past whose event re-enters its state fires once; the pass ends."""
    (root / "workflows" / "nag.yaml").write_text(NAG, encoding="utf-8")
    engine = _engine(root)
    case = engine.start("nag", {"title": "x", "remind_at": _at(days=-1)}, actor="ann")
    worker = _process(root, "worker", "--once", "--json", OPSFLOW_NOW=_at(hours=1))
    try:
        stdout, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr
    report = json.loads(stdout)
    assert (report["deadlines_fired"], report["delivered"]) == (1, 1)
    assert [e.kind for e in engine.history(case.id)] == ["start", "timer"]
