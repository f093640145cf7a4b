"""When the database fails: locked, unreachable, misnamed, missing, read-only, full (SPEC §3, §6).

Each fault must give a plain one-line message and its exit code, write nothing, and leave
opsflow working once the fault is gone.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from faults_helpers import CONFIG, WORKFLOW, FaultProject, clean_env, one_line_error, wait_all

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/test"


@pytest.fixture
def sqlite_project(tmp_path: Path) -> FaultProject:
    """The fault project on a SQLite file (these faults are SQLite's own)."""
    root = tmp_path / "proj"
    (root / "workflows").mkdir(parents=True)
    (root / "workflows" / "ticket.yaml").write_text(WORKFLOW, encoding="utf-8")
    (root / "opsflow.yaml").write_text(CONFIG, encoding="utf-8")
    return FaultProject(root, f"sqlite:///{root / 'opsflow.db'}")


def popen(project: FaultProject, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsflow", "--db", project.url, *args],
        cwd=project.root,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def test_database_locked_past_the_busy_timeout_exits_75(sqlite_project: FaultProject) -> None:
    [case_id] = sqlite_project.start(1)
    before = sqlite_project.snapshot()
    holder = sqlite3.connect(sqlite_project.root / "opsflow.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock, and keeps it
        env = {"OPSFLOW_BUSY_TIMEOUT": "1"}
        procs = [
            popen(sqlite_project, "--as", "jo", "fire", case_id, "accept", env=env),
            popen(sqlite_project, "--as", "ann", "start", "ticket", "--set", "title=X", env=env),
        ]
        results = wait_all(procs, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for code, out, err in results:
        assert code == 75, err
        assert out == ""
        one_line_error(err, "busy", "try again")
    assert sqlite_project.snapshot() == before
    sqlite_project.still_works(case_id)


def test_postgresql_server_unreachable_exits_1(sqlite_project: FaultProject) -> None:
    result = sqlite_project.cli(
        "--as", "ann", "start", "ticket", "--set", "title=X", db=UNREACHABLE
    )
    assert result.returncode == 1
    one_line_error(result.stderr, f"cannot open database {UNREACHABLE}", "Connection refused")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("notaurl", "invalid database URL 'notaurl'"),
        ("postgresql+nodriver://x/y", "unsupported database URL"),
    ],
)
def test_malformed_database_url_exits_1(
    sqlite_project: FaultProject, url: str, fragment: str
) -> None:
    result = sqlite_project.cli("--as", "ann", "start", "ticket", "--set", "title=X", db=url)
    assert result.returncode == 1
    one_line_error(result.stderr, fragment)


def test_sqlite_directory_missing_exits_1(sqlite_project: FaultProject, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    url = f"sqlite:///{missing / 'opsflow.db'}"
    result = sqlite_project.cli("--as", "ann", "start", "ticket", "--set", "title=X", db=url)
    assert result.returncode == 1
    one_line_error(result.stderr, "cannot open database", "unable to open database file")
    assert not (tmp_path / "no").exists()  # opsflow does not invent folders


def test_read_only_sqlite_refuses_writes_and_still_reads(sqlite_project: FaultProject) -> None:
    [case_id] = sqlite_project.start(1)
    before = sqlite_project.snapshot()
    # root ignores file modes, so the read-only database is SQLite's own mode=ro
    ro = f"sqlite:///file:{sqlite_project.root / 'opsflow.db'}?mode=ro&uri=true"
    result = sqlite_project.cli("--as", "jo", "fire", case_id, "accept", db=ro)
    assert result.returncode == 1
    one_line_error(result.stderr, "the database is read-only")
    reader = sqlite_project.engine(db=ro)
    try:
        assert reader.status(case_id, actor="jo").state == "open"  # reading still works
    finally:
        reader.close()
    assert sqlite_project.snapshot() == before
    sqlite_project.still_works(case_id)


def test_disk_full_writes_nothing(sqlite_project: FaultProject) -> None:
    [case_id] = sqlite_project.start(1)
    checkpoint = sqlite3.connect(sqlite_project.root / "opsflow.db")
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write starts an empty WAL
    checkpoint.close()
    before = sqlite_project.snapshot()
    limit = 64 * 1024  # room for the WAL index, not for the 100 KB note: the disk is "full"

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = sqlite_project.cli(
        "--as", "ann", "set", case_id, "note=" + "x" * 100_000, preexec_fn=small_disk
    )
    assert result.returncode == 1, result.stdout
    one_line_error(result.stderr, "sqlite")
    assert sqlite_project.snapshot() == before
    sqlite_project.still_works(case_id)
