"""The audit replays each history and compares it with the case row; a digest kept outside
the database shows truncation, rewrites and deleted cases made since it was taken."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import delete, insert, select, update

from opsflow.store import tables as t
from project_cli import run_cli


def _bypass(conn: Any) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def _run(db_url: str, workflows: Path, *args: str) -> Result:
    return run_cli(db_url, workflows, *args)


def _in_legal(engine: Any) -> str:
    """A case waiting in ``legal`` with one of two approvals given."""
    case = engine.start("review", {"title": "x", "claims": True}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")
    return str(case.id)


def _cases(conn: Any, case_id: str, **values: Any) -> None:
    conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(**values))


TAMPERS: dict[str, Any] = {
    "state and closed": lambda conn, i: _cases(conn, i, state="done", closed=True),
    "closed only": lambda conn, i: _cases(conn, i, closed=True),
    "data": lambda conn, i: _cases(conn, i, data={"title": "forged", "claims": True}),
    "a field added": lambda conn, i: _cases(
        conn,
        i,
        data={"title": "x", "claims": True, "kind": "article", "legal_ok": False, "budget": 9},
    ),
    "a forged approval": lambda conn, i: conn.execute(
        insert(t.approvals).values(
            case_id=i,
            visit=_row(conn, i).visit,
            event="approve",
            actor="bea",
            at=_row(conn, i).updated_at,
        )
    ),
    "an approval removed": lambda conn, i: conn.execute(
        delete(t.approvals).where(t.approvals.c.case_id == i)
    ),
}


def _row(conn: Any, case_id: str) -> Any:
    return conn.execute(select(t.cases).where(t.cases.c.id == case_id)).one()


@pytest.mark.parametrize("how", list(TAMPERS))
def test_a_case_row_that_disagrees_with_its_history_is_detected(engine: Any, how: str) -> None:
    case_id = _in_legal(engine)
    other = _in_legal(engine)
    assert engine.audit_verify() == (2, [])
    with engine.db.write() as conn:
        _bypass(conn)
        TAMPERS[how](conn, case_id)
    checked, problems = engine.audit_verify()
    assert checked == 2
    assert [p.case for p in problems] == [case_id], problems
    assert other not in {p.case for p in problems}


def test_a_replay_of_every_kind_of_entry_agrees(engine: Any, clock: Any) -> None:
    case = engine.start("review", {"title": "x", "claims": True, "publish_at": None}, actor="ann")
    engine.set(case.id, {"budget": 5000, "score": 95, "hits": 1, "views": 2}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    clock.advance(days=3)
    engine.run_due()  # the SLA escalates (a timer entry)
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")
    engine.fire(case.id, "approve", actor="bea")  # legal -> scheduled, legal_ok set on exit
    engine.fire(case.id, "rush", actor="pat")  # published (metric), then finish: done
    with contextlib.suppress(Exception):  # a refusal on a closed case (a denied entry)
        engine.fire(case.id, "rush", actor="pat")
    assert engine.get(case.id).closed
    assert engine.audit_verify() == (1, [])


def _truncate_last(conn: Any, case_id: str) -> None:
    h = t.history.c
    last = conn.execute(
        select(t.history).where(h.case_id == case_id).order_by(h.seq.desc()).limit(1)
    ).one()
    conn.execute(delete(t.history).where(h.case_id == case_id, h.seq == last.seq))
    conn.execute(delete(t.approvals).where(t.approvals.c.case_id == case_id))  # lou's
    _cases(conn, case_id, seq=last.seq - 1, last_hash=last.prev_hash)


def _delete_case(conn: Any, case_id: str) -> None:
    for table in (t.history, t.approvals, t.deadlines, t.outbox):
        conn.execute(delete(table).where(table.c.case_id == case_id))
    conn.execute(delete(t.cases).where(t.cases.c.id == case_id))


def test_digest_detects_truncation_and_deleted_cases(
    engine: Any, db_url: str, workflows_dir: Path, tmp_path: Path
) -> None:
    first, second, third = _in_legal(engine), _in_legal(engine), _in_legal(engine)
    taken = _run(db_url, workflows_dir, "audit", "digest")
    assert taken.exit_code == 0, taken.output
    digest = tmp_path / "digest.json"
    digest.write_text(taken.stdout)
    document = json.loads(taken.stdout)
    assert set(document["cases"]) == {first, second, third}
    assert len(document["root"]) == 64
    ok = _run(db_url, workflows_dir, "audit", "verify", "--against", str(digest))
    assert ok.exit_code == 0, ok.output
    engine.fire(third, "approve", actor="bea")  # history that grows is fine
    later = _run(db_url, workflows_dir, "audit", "verify", "--against", str(digest))
    assert later.exit_code == 0, later.output
    with engine.db.write() as conn:
        _bypass(conn)
        _truncate_last(conn, first)
        _delete_case(conn, second)
    assert engine.audit_verify()[1] == []  # invisible without the digest
    broken = _run(db_url, workflows_dir, "audit", "verify", "--against", str(digest), "--json")
    assert broken.exit_code == 1
    problems = {p["case"]: p["reason"] for p in json.loads(broken.stdout)["problems"]}
    assert set(problems) == {first, second}
    assert "truncated" in problems[first]
    assert "deleted" in problems[second]


def test_digest_detects_a_rewritten_history(
    engine: Any, db_url: str, workflows_dir: Path, tmp_path: Path
) -> None:
    case_id = _in_legal(engine)
    digest = tmp_path / "digest.json"
    digest.write_text(_run(db_url, workflows_dir, "audit", "digest").stdout)
    with engine.db.write() as conn:  # drop lou's approval, then record bea's in its place
        _bypass(conn)
        _truncate_last(conn, case_id)
    engine.fire(case_id, "approve", actor="bea")  # a different history of the same length
    assert engine.audit_verify()[1] == []
    broken = _run(db_url, workflows_dir, "audit", "verify", "--against", str(digest), "--json")
    assert broken.exit_code == 1
    (problem,) = json.loads(broken.stdout)["problems"]
    assert problem["case"] == case_id
    assert "rewritten" in problem["reason"]


def test_a_tampered_digest_file_is_refused(
    engine: Any, db_url: str, workflows_dir: Path, tmp_path: Path
) -> None:
    _in_legal(engine)
    document = json.loads(_run(db_url, workflows_dir, "audit", "digest").stdout)
    document["cases"] = {}
    digest = tmp_path / "digest.json"
    digest.write_text(json.dumps(document))
    result = _run(db_url, workflows_dir, "audit", "verify", "--against", str(digest))
    assert result.exit_code == 1
    assert "internal error" not in result.stderr
    assert "root" in result.stderr
    digest.write_text("{not json")
    result = _run(db_url, workflows_dir, "audit", "verify", "--against", str(digest))
    assert result.exit_code == 1
    assert "internal error" not in result.stderr
