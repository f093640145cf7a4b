"""Tampering with the history is detected, naming the case and the first broken entry.

On SQLite the file is just a file; on PostgreSQL the append-only triggers are bypassed the
way a superuser could (``session_replication_role = replica``). SPEC §6.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, update

from opsflow.cli import cli
from opsflow.store import tables as t

Tamper = Callable[[Any, str], None]


def _bypass(conn: Any) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def _three_entries(engine: Any) -> str:
    case = engine.start("review", {"title": "x"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    return str(case.id)


def _edit(column: str, value: Any, seq: int = 2) -> Tamper:
    def tamper(conn: Any, case_id: str) -> None:
        h = t.history.c
        conn.execute(
            update(t.history).where(h.case_id == case_id, h.seq == seq).values({column: value})
        )

    return tamper


EDITS: dict[str, tuple[Any, int]] = {
    "actor": ("mallory", 2),
    "at": ("2020-01-01 00:00:00", 2),
    "data_changes": ({"title": "forged"}, 1),
    "comment": ("approved by phone", 2),
    "kind": ("approval", 2),
    "event": ("approve", 2),
    "from_state": ("review", 2),
    "to_state": ("done", 2),
    "detail": ({"forged": True}, 2),
    "hash": ("0" * 64, 2),
    "prev_hash": ("f" * 64, 2),
}


@pytest.mark.parametrize("column", list(EDITS))
def test_an_edited_column_is_detected(engine: Any, column: str) -> None:
    case_id = _three_entries(engine)
    other = _three_entries(engine)
    value, seq = EDITS[column]
    if column == "at":
        from datetime import UTC, datetime

        value = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.db.write() as conn:
        _bypass(conn)
        _edit(column, value, seq)(conn, case_id)
    checked, problems = engine.audit_verify()
    assert checked == 2
    assert [(p.case, p.seq) for p in problems] == [(case_id, seq)]
    assert other not in {p.case for p in problems}


@pytest.mark.parametrize(("seq", "first_broken"), [(1, 1), (2, 2), (3, 3)])
def test_a_deleted_entry_is_detected(engine: Any, seq: int, first_broken: int) -> None:
    case_id = _three_entries(engine)
    with engine.db.write() as conn:
        _bypass(conn)
        h = t.history.c
        conn.execute(delete(t.history).where(h.case_id == case_id, h.seq == seq))
    assert [(p.case, p.seq) for p in engine.audit_verify()[1]] == [(case_id, first_broken)]


def test_swapped_entries_are_detected(engine: Any) -> None:
    case_id = _three_entries(engine)
    h = t.history.c
    with engine.db.write() as conn:
        _bypass(conn)
        for old, new in ((2, -2), (3, 2), (-2, 3)):
            where = (h.case_id == case_id, h.seq == old)
            conn.execute(update(t.history).where(*where).values(seq=new))
    assert [(p.case, p.seq) for p in engine.audit_verify()[1]] == [(case_id, 2)]


def test_a_forged_entry_is_detected(engine: Any) -> None:
    case_id = _three_entries(engine)
    with engine.db.write() as conn:
        _bypass(conn)
        last = dict(
            conn.execute(
                select(t.history).where(t.history.c.case_id == case_id, t.history.c.seq == 3)
            )
            .one()
            ._mapping
        )
        forged = {**last, "seq": 4, "actor": "mallory", "prev_hash": last["hash"]}
        forged.pop("id")
        conn.execute(insert(t.history).values(forged))
    problems = engine.audit_verify()[1]
    assert [(p.case, p.seq) for p in problems] == [(case_id, 4)]


def test_audit_verify_cli_exit_code_and_json(engine: Any, db_url: str) -> None:
    case_id = _three_entries(engine)
    runner = CliRunner()
    ok = runner.invoke(
        cli,
        [
            "--db",
            db_url,
            "--workflows",
            str(engine.settings.workflows_dir),
            "audit",
            "verify",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {"ok": True, "cases_checked": 1, "problems": []}
    with engine.db.write() as conn:
        _bypass(conn)
        _edit("actor", "mallory")(conn, case_id)
    broken = runner.invoke(
        cli,
        [
            "--db",
            db_url,
            "--workflows",
            str(engine.settings.workflows_dir),
            "audit",
            "verify",
            "--json",
        ],
    )
    assert broken.exit_code == 1
    document = json.loads(broken.stdout)
    assert document["ok"] is False
    assert document["cases_checked"] == 1
    assert [(p["case"], p["seq"]) for p in document["problems"]] == [(case_id, 2)]
    assert set(document["problems"][0]) == {"case", "seq", "reason"}
    human = runner.invoke(
        cli, ["--db", db_url, "--workflows", str(engine.settings.workflows_dir), "audit", "verify"]
    )
    assert human.exit_code == 1
    assert f"{case_id} seq 2: hash mismatch" in human.stdout
    assert "broken" in human.stderr
