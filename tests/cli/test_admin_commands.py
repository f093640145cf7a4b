"""init, worker, outbox, audit verify, plugins, demo through the real CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

Run = Callable[..., Result]
Project = Any
LATER = "2026-12-31T00:00:00+00:00"


def as_json(result: Result) -> Any:
    """The one JSON document on stdout."""
    return json.loads(result.stdout)


# -- init ------------------------------------------------------------------------------


def test_init_creates_a_project_and_refuses_to_overwrite(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = run("init", str(target))
    assert result.exit_code == 0, result.output
    assert (target / "opsflow.yaml").is_file()
    assert list((target / "workflows").glob("*.yaml"))
    assert list((target / "workflows" / "tests").glob("*.test.yaml"))
    assert "Next steps" in result.stdout
    assert "opsflow validate" in result.stdout
    again = run("init", str(target))
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.stderr
    assert "opsflow.yaml" in again.stderr
    (target / "opsflow.yaml").write_text("changed", encoding="utf-8")
    forced = run("init", str(target), "--force")
    assert forced.exit_code == 0
    assert (target / "opsflow.yaml").read_text(encoding="utf-8") != "changed"


def test_init_project_validates_and_its_tests_pass(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    assert run("init", str(target)).exit_code == 0
    config = str(target / "opsflow.yaml")
    validated = run("--config", config, "validate")
    assert validated.exit_code == 0, validated.output
    tested = run("--config", config, "test")
    assert tested.exit_code == 0, tested.output
    assert " 0 failed" in tested.stdout


# -- worker and outbox -------------------------------------------------------------------


def test_worker_once_fires_due_deadlines_and_delivers(
    run: Run, project: Project, in_review: str
) -> None:
    nothing = as_json(run("worker", "--once", "--json"))
    assert set(nothing) >= {"deadlines_fired", "delivered", "failed"}
    assert nothing["deadlines_fired"] == 0
    doc = as_json(run("worker", "--once", "--json", env={"OPSFLOW_NOW": LATER}))
    assert doc["deadlines_fired"] == 1
    assert doc["delivered"] == 1
    history = project.engine().history(in_review)
    assert history[-1].actor == "system"
    assert history[-1].event == "remind"
    lines = (project.root / "notifications.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["to"]
    human = run("worker", "--once", env={"OPSFLOW_NOW": LATER})
    assert human.exit_code == 0
    assert "0 deadline(s) fired" in human.stdout


def test_outbox_lists_notifications(run: Run, in_review: str) -> None:
    run("--as", "mia", "fire", in_review, "approve")
    rows = as_json(run("outbox", "--json"))
    assert len(rows) == 1
    assert set(rows[0]) >= {"id", "case", "channel", "to", "status", "attempts", "message"}
    assert rows[0]["status"] == "pending"
    assert rows[0]["channel"] == "chat"
    assert as_json(run("outbox", "--failed", "--json")) == []
    assert "CHANNEL" in run("outbox").stdout
    run("worker", "--once")
    assert as_json(run("outbox", "--json"))[0]["status"] == "delivered"


def test_worker_loop_stops_on_sigterm(project: Project, start_case: Callable[..., str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsflow", "worker", "--interval", "0.2"],
        cwd=project.root,
        env={**env, "OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the handler is installed before this line is printed
        assert "worker running" in first
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "worker stopped" in err


# -- audit verify ----------------------------------------------------------------------


def test_audit_verify_ok_and_tampered(run: Run, project: Project, in_review: str) -> None:
    doc = as_json(run("audit", "verify", "--json"))
    assert doc == {"ok": True, "cases_checked": 1, "problems": []}
    assert "ok:" in run("audit", "verify").stdout
    with sqlite3.connect(project.root / "opsflow.db") as conn:
        conn.execute("update history set actor = 'mallory' where seq = 2")
    broken = run("audit", "verify", "--json")
    assert broken.exit_code == 1
    doc = json.loads(broken.stdout)
    assert doc["ok"] is False
    assert doc["problems"][0]["seq"] == 2
    assert doc["problems"][0]["case"] == in_review
    human = run("audit", "verify")
    assert human.exit_code == 1
    assert f"{in_review} seq 2" in human.stdout
    assert human.stderr.startswith("error: ")


# -- plugins ---------------------------------------------------------------------------


def test_plugins_lists_builtins(run: Run) -> None:
    doc = as_json(run("plugins", "--json"))
    calculators = {c for p in doc for c in p.get("calculators", [])}
    assert {"ratio", "count"} <= calculators
    notifiers = {n for p in doc for n in p.get("notifiers", [])}
    assert {"console", "file"} <= notifiers
    human = run("plugins")
    assert human.exit_code == 0
    assert "ratio" in human.stdout


def test_local_plugin_failure_is_reported_not_fatal(run: Run, project: Project) -> None:
    plugins = project.root / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    result = run("--plugins-dir", str(plugins), "plugins", "--json")
    assert result.exit_code == 0, result.output
    assert any("boom" in p.get("error", "") for p in as_json(result))
    assert run("--plugins-dir", str(plugins), "cases").exit_code == 0


# -- demo ------------------------------------------------------------------------------


def test_demo_runs_end_to_end(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = run("demo", "--dir", str(target))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "published" in out
    assert "not_permitted" in out  # the refused four-eyes attempt is shown
    assert "every history chain is intact" in out
    # times on the project's clocks: the template says timezone: Asia/Shanghai
    assert "created:  2026-01-05 17:00 +08:00 by alice" in out
    assert " UTC" not in out
    # the HTTP API, answered for real: a token, the curl line, the service's answer
    token = re.search(r"TOKEN=(opsf_\S+)", out)
    assert token is not None, out
    case_id = re.search(r"/v1/cases/([0-9a-f]{32})", out)
    assert case_id is not None
    assert f'HTTP 200: {{"id": "{case_id.group(1)}", "workflow": "content_approval"' in out
    assert '"state": "published"' in out
    assert "opsflow serve" in out
    assert "http://127.0.0.1:8080/v1/docs" in out
    assert (target / ".opsflow-demo").exists()
    assert (target / "opsflow.db").exists()
    name, password = _board_login(out)
    assert "Then open:    http://127.0.0.1:8080/\n" in out
    assert f"Waiting there: 3 more cases, 2 of them drafts for {name} to submit" in out
    _logs_in_on_the_board(target, name, password)
    again = run("demo", "--dir", str(target))  # a previous demo is replaced
    assert again.exit_code == 0, again.output
    again_name, again_password = _board_login(again.stdout)
    assert again_name == name
    assert again_password != password  # new each run, like the database it is set in
    _refused_on_the_board(target, name, password)


def _board_login(out: str) -> tuple[str, str]:
    """The user name and password the demo printed for the board."""
    found = re.search(r"Log in as: +(\S+)\nPassword: +(\S+)\n", out)
    assert found is not None, out
    return found.group(1), found.group(2)


def _logs_in_on_the_board(target: Path, name: str, password: str) -> None:
    """The printed password logs in, by the engine and by POST /login of the app."""
    from fastapi.testclient import TestClient

    from opsflow.engine.logins import password_login
    from opsflow.facade import Engine
    from opsflow.service import create_app

    engine = Engine.from_config(target / "opsflow.yaml")
    try:
        _session_id, session = password_login(engine, name, password)
        assert session.to_json()["name"] == name
        with TestClient(create_app(engine), base_url="http://127.0.0.1:8080") as browser:
            answer = browser.post("/login", json={"username": name, "password": password})
            assert answer.status_code == 200, answer.text
            assert answer.json()["name"] == name
            inbox = browser.get("/inbox", headers={"Accept-Language": "en"})
            assert inbox.status_code == 200
            assert "官网首页改版 Home page refresh" in inbox.text  # a draft to submit
            assert "Nothing needs you now." not in inbox.text
            wrong = browser.post("/login", json={"username": name, "password": password + "x"})
            assert wrong.status_code == 401
    finally:
        engine.close()


def _refused_on_the_board(target: Path, name: str, password: str) -> None:
    from opsflow.engine.logins import password_login
    from opsflow.errors import NotAuthenticated
    from opsflow.facade import Engine

    engine = Engine.from_config(target / "opsflow.yaml")
    try:
        with pytest.raises(NotAuthenticated):
            password_login(engine, name, password)
    finally:
        engine.close()


def test_demo_refuses_a_folder_that_is_not_a_demo(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "precious.txt").write_text("keep", encoding="utf-8")
    result = run("demo", "--dir", str(target))
    assert result.exit_code == 1
    assert (target / "precious.txt").exists()


def test_outbox_help_and_the_operations_guide_give_the_retry_window_of_the_code() -> None:
    from datetime import timedelta

    from opsflow.cli import cli
    from opsflow.cli.admin import retry_window
    from opsflow.runners import outbox as schedule

    low, high = schedule.schedule_bounds()
    assert low == timedelta(hours=14, minutes=31, seconds=30)  # 0.5 + 1 + … + 256 + 360 min
    assert high == low * (1 + schedule.BACKOFF_JITTER)
    window = retry_window()
    assert window == "12 attempts, the last one 14 h 31 min to 18 h 10 min after the first"
    help_text = " ".join(CliRunner().invoke(cli, ["outbox", "--help"]).stdout.split())
    assert window in help_text
    assert "RETRY_WINDOW" not in help_text
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert window in " ".join(guide.split())
    assert "24 h" not in guide
