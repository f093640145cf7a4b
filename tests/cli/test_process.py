"""The CLI as a real process: start-up cost, exit codes, stdout/stderr, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

Project = Any
HEAVY = ("sqlalchemy", "sqlmodel", "rich", "jinja2", "pydantic", "duckdb", "opsflow.engine")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from opsflow.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='opsflow')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={
            "OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PATH": "/usr/bin:/bin",
        },
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"
    assert "Examples" in proc.stdout


def test_python_dash_m_and_exit_codes(project: Project, opsflow: Any) -> None:
    cwd = project.root
    assert opsflow("--help", cwd=cwd).returncode == 0
    started = opsflow(
        "--as", "rita", "start", "expense", "--set", "title=T", "--set", "amount=1", cwd=cwd
    )
    assert started.returncode == 0, started.stderr
    case_id = started.stdout.strip()
    assert len(case_id) == 32
    assert opsflow("nosuchcommand", cwd=cwd).returncode == 2
    assert opsflow("start", "expense", "--set", "x", cwd=cwd).returncode == 2
    missing = opsflow("status", "abcdefabcdef", cwd=cwd)
    assert missing.returncode == 5
    assert missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr
    assert opsflow("--as", "fin", "fire", case_id, "pay", cwd=cwd).returncode == 4
    submitted = opsflow("--as", "rita", "fire", case_id, "submit", cwd=cwd)
    assert submitted.stdout == "review\n"
    denied = opsflow("--as", "rita", "fire", case_id, "approve", "--json", cwd=cwd)
    assert denied.returncode == 3
    assert json.loads(denied.stdout)["error"] == "not_permitted"
    assert denied.stderr.startswith("error: ")
    assert opsflow("--as", "rita", "set", case_id, "count=x", cwd=cwd).returncode == 65


def test_env_options(project: Project, opsflow: Any) -> None:
    env = {"OPSFLOW_ACTOR": "rita", "OPSFLOW_NOW": "2026-01-05T09:00:00Z"}
    started = opsflow("start", "expense", "--set", "title=T", "--json", cwd=project.root, env=env)
    doc = json.loads(started.stdout)
    assert doc["created_by"] == "rita"
    assert doc["created_at"] == "2026-01-05T09:00:00+00:00"
    other = project.root / "other.db"
    opsflow(
        "--db",
        f"sqlite:///{other}",
        "--as",
        "rita",
        "start",
        "expense",
        "--set",
        "title=T",
        cwd=project.root,
    )
    assert other.exists()


def test_unreachable_database_is_a_clean_error(project: Project, opsflow: Any) -> None:
    url = "postgresql+psycopg://ops:s3cret@127.0.0.1:1/opsflow?connect_timeout=2"
    result = opsflow("--db", url, "cases", cwd=project.root)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.startswith("error: cannot open database postgresql+psycopg://ops:***@")
    assert "127.0.0.1" in result.stderr
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr
    debug = opsflow("--debug", "--db", url, "cases", cwd=project.root)
    assert "Traceback" in debug.stderr
    assert debug.returncode == 1


DRIVER = """
import sys
from opsflow.cli import cli
case_id, n = sys.argv[1], int(sys.argv[2])
for i in range(10):
    comment = f"p{n}-{i}"
    try:
        code = cli.main(["--as", "rita", "set", case_id, f"count={n * 100 + i}",
                         "--comment", comment], prog_name="opsflow", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    print(f"RESULT {comment} {code or 0}", flush=True)
"""


@pytest.mark.slow
def test_concurrent_sets_each_appear_once(project: Project, opsflow: Any) -> None:
    """4 processes x 10 CLI invocations on one case: every acknowledged set is in history once."""
    started = opsflow("--as", "rita", "start", "expense", "--set", "title=T", cwd=project.root)
    case_id = started.stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, case_id, str(n)],
            cwd=project.root,
            env={**env, "OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    acked: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        for line in out.splitlines():
            if not line.startswith("RESULT "):
                continue
            _, comment, code = line.split()
            assert code in ("0", "6", "75"), err  # a loser is told to retry, never half-written
            if code == "0":
                acked.append(comment)
    assert len(acked) >= 36
    show = opsflow("history", case_id, "--json", cwd=project.root)
    entries = json.loads(show.stdout)
    comments = [e["comment"] for e in entries if e["kind"] == "data"]
    for comment in acked:
        assert comments.count(comment) == 1
    assert len(comments) == len(acked)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    verify = opsflow("audit", "verify", cwd=project.root)
    assert verify.returncode == 0, verify.stderr


def test_main_module_exists() -> None:
    assert (Path(__import__("opsflow").__file__).parent / "__main__.py").exists()
