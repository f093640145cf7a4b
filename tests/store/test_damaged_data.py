"""Damaged or foreign databases: a plain message naming the damage, never an internal error."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import text, update

from opsflow.store import tables as t
from project_cli import run_cli


def _run(db_url: str, workflows: Path, *args: str) -> Result:
    return run_cli(db_url, workflows, *args)


# A defect SQLite's typeless columns let in (PostgreSQL's types refuse the bad value):
# these tests run on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _two_cases(engine: Any) -> tuple[str, str]:
    good = engine.start("review", {"title": "good"}, actor="ann")
    bad = engine.start("review", {"title": "bad"}, actor="ann")
    engine.fire(good.id, "submit", actor="ann")
    engine.fire(bad.id, "submit", actor="ann")
    return str(good.id), str(bad.id)


def _raw_sql(engine: Any, statement: str, **params: Any) -> None:
    with engine.db.write() as conn:
        conn.execute(text(statement), params)


def _corrupt(path: Path, how: str) -> None:
    if how == "text":
        path.write_text("these are my notes, not a database\n" * 50)
    elif how == "random":
        path.write_bytes(os.urandom(8192))
    else:  # truncated in the middle of its pages
        size = path.stat().st_size
        with path.open("r+b") as f:
            f.seek(100)
            f.write(os.urandom(min(size - 100, 3000)))
            f.truncate(size // 2)


@pytest.mark.parametrize("how", ["text", "random", "truncated"])
@SQLITE_ONLY
def test_an_unreadable_file_is_named_plainly(
    make_engine: Any, db_url: str, workflows_dir: Path, how: str
) -> None:
    engine = make_engine()
    _two_cases(engine)
    engine.close()
    path = Path(db_url.removeprefix("sqlite:///"))
    _corrupt(path, how)
    for args in (["cases"], ["inbox"], ["audit", "verify"], ["worker", "--once"]):
        result = _run(db_url, workflows_dir, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "internal error" not in result.stderr
        assert "not a readable opsflow database" in result.stderr
        assert path.name in result.stderr


def test_one_unreadable_case_row_does_not_break_listings(
    engine: Any, db_url: str, workflows_dir: Path
) -> None:
    _unreadable_column(engine, db_url, workflows_dir, "data")


@SQLITE_ONLY  # a PostgreSQL timestamp column holds only times
def test_one_unreadable_time_does_not_break_listings(
    engine: Any, db_url: str, workflows_dir: Path
) -> None:
    _unreadable_column(engine, db_url, workflows_dir, "entered_at")


def _unreadable_column(engine: Any, db_url: str, workflows_dir: Path, column: str) -> None:
    good, bad = _two_cases(engine)
    _raw_sql(engine, f"UPDATE cases SET {column} = 'not {{ json or a time' WHERE id = :i", i=bad)
    listed = _run(db_url, workflows_dir, "cases", "--json")
    assert listed.exit_code == 0, listed.output
    assert [c["id"] for c in json.loads(listed.stdout)] == [good]
    assert bad in listed.stderr
    assert "unreadable" in listed.stderr
    inbox = _run(db_url, workflows_dir, "--as", "ed", "inbox", "--json")
    assert inbox.exit_code == 0, inbox.output
    assert [c["id"] for c in json.loads(inbox.stdout)] == [good]
    assert bad in inbox.stderr
    status = _run(db_url, workflows_dir, "status", bad)
    assert status.exit_code == 1
    assert "internal error" not in status.stderr
    assert column in status.stderr
    verify = _run(db_url, workflows_dir, "audit", "verify", "--json")
    assert verify.exit_code == 1
    problems = json.loads(verify.stdout)["problems"]
    assert [p["case"] for p in problems] == [bad]
    assert column in problems[0]["reason"]


@SQLITE_ONLY
def test_random_bytes_in_a_case_row_do_not_break_listings(
    engine: Any, db_url: str, workflows_dir: Path
) -> None:
    good, bad = _two_cases(engine)
    _raw_sql(engine, "UPDATE cases SET data = CAST(x'ff00fe9c' AS TEXT) WHERE id = :i", i=bad)
    listed = _run(db_url, workflows_dir, "cases", "--json")
    assert listed.exit_code == 0, listed.output
    assert [c["id"] for c in json.loads(listed.stdout)] == [good]
    assert bad in listed.stderr


@SQLITE_ONLY
def test_random_bytes_in_a_deadline(engine: Any, db_url: str, workflows_dir: Path) -> None:
    good, bad = _two_cases(engine)  # both in review: an SLA deadline each
    _raw_sql(engine, "UPDATE deadlines SET due_at = x'ff00fe9c' WHERE case_id = :i", i=bad)
    status = _run(db_url, workflows_dir, "status", bad)
    assert "internal error" not in status.stderr
    assert status.exit_code == 0, status.output
    assert "deadline" in status.stderr
    fired = _run(db_url, workflows_dir, "--as", "ed", "fire", bad, "approve")
    assert "internal error" not in fired.stderr
    assert fired.exit_code == 0, fired.output
    worker = _run(db_url, workflows_dir, "worker", "--once")
    assert "internal error" not in worker.stderr
    assert worker.exit_code == 0, worker.output
    verify = _run(db_url, workflows_dir, "audit", "verify", "--json")
    assert verify.exit_code == 1
    problems = json.loads(verify.stdout)["problems"]
    assert [p["case"] for p in problems] == [bad]
    assert "deadline" in problems[0]["reason"]


def _foreign(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute("INSERT INTO customers (name) VALUES ('acme')")
        return
    import sqlalchemy as sa

    foreign = sa.create_engine(db_url)
    with foreign.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"))
    foreign.dispose()


def _tables(db_url: str) -> set[str]:
    import sqlalchemy as sa

    probe = sa.create_engine(db_url)
    try:
        return set(sa.inspect(probe).get_table_names())
    finally:
        probe.dispose()


def test_a_foreign_database_is_refused_until_adopted(db_url: str, workflows_dir: Path) -> None:
    _foreign(db_url)
    refused = _run(db_url, workflows_dir, "cases")
    assert refused.exit_code == 1
    assert "internal error" not in refused.stderr
    assert "not an opsflow database" in refused.stderr
    assert "customers" in refused.stderr
    assert "--adopt" in refused.stderr
    assert _tables(db_url) == {"customers"}
    plain = _run(db_url, workflows_dir, "db", "upgrade")
    assert plain.exit_code == 1
    assert _tables(db_url) == {"customers"}
    adopted = _run(db_url, workflows_dir, "db", "upgrade", "--adopt")
    assert adopted.exit_code == 0, adopted.output
    assert "cases" in _tables(db_url)
    after = _run(db_url, workflows_dir, "cases", "--json")
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout) == []


def test_an_empty_database_is_still_set_up_on_first_use(db_url: str, workflows_dir: Path) -> None:
    first = _run(db_url, workflows_dir, "cases", "--json")
    assert first.exit_code == 0, first.output
    assert "cases" in _tables(db_url)


@SQLITE_ONLY
def test_verify_reports_an_unreadable_approval_row(
    engine: Any, db_url: str, workflows_dir: Path
) -> None:
    good, _bad = _two_cases(engine)
    with engine.db.write() as conn:
        conn.execute(update(t.cases).where(t.cases.c.id == good).values(version=1))
    _raw_sql(
        engine,
        "INSERT INTO approvals (case_id, visit, event, actor, at) VALUES (:i, 1, 'x', 'y', 'zz')",
        i=good,
    )
    verify = _run(db_url, workflows_dir, "audit", "verify", "--json")
    assert verify.exit_code == 1
    assert "internal error" not in verify.stderr
    assert good in {p["case"] for p in json.loads(verify.stdout)["problems"]}


@SQLITE_ONLY
def test_the_worker_sets_a_damaged_due_deadline_aside(
    engine: Any, db_url: str, workflows_dir: Path
) -> None:
    good, bad = _two_cases(engine)
    # text that sorts before any real time: the claim picks it first, then cannot read it
    _raw_sql(engine, "UPDATE deadlines SET due_at = '0garbage' WHERE case_id = :i", i=bad)
    later = {"OPSFLOW_NOW": "2027-06-01T00:00:00+00:00"}
    worker = run_cli(db_url, workflows_dir, "worker", "--once", "--json", env=later)
    assert "internal error" not in worker.output + worker.stderr
    assert worker.exit_code == 0, worker.output
    assert json.loads(worker.stdout)["deadlines_fired"] == 1, worker.output
    with engine.db.read() as conn:
        rows = conn.execute(
            text("SELECT status FROM deadlines WHERE case_id = :i"), {"i": bad}
        ).all()
    assert [r.status for r in rows] == ["unreadable"]
    assert "kind=deadline outcome=unreadable" in worker.stderr
