"""``audit.verify_one``: one case's hash chain checked for a reader of the case (both backends).

The board's verified-chain badge asks this; it runs ``verify_all``'s checks on one case, in
the same few statements whatever the history's length, and hides a case the reader may not
read exactly as a missing one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, update

from opsflow.engine.audit import verify_one
from opsflow.errors import NotFound
from opsflow.store import tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _bypass_history_guard(conn: Any) -> None:
    """Tamper like a superuser would: PostgreSQL's append-only triggers off for this transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def _tamper(engine: Any, case_id: str, seq: int, **values: Any) -> None:
    with engine.db.write() as conn:
        _bypass_history_guard(conn)
        history = tables.history.c
        conn.execute(
            update(tables.history)
            .where(history.case_id == case_id, history.seq == seq)
            .values(**values)
        )


def _approved(engine: Any) -> str:
    case = engine.start("review", {"title": "x", "claims": True}, actor="ann")
    engine.fire(case.id, "submit", actor="ann", comment="please look")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")  # 1 of 2 approvals: an approvals row
    return str(case.id)


def test_an_untouched_chain_is_verified_with_its_length(engine: Any) -> None:
    case_id = _approved(engine)
    chain = verify_one(engine, case_id[:8], "ann")  # a prefix, as people give it
    assert chain.verified
    assert (chain.case, chain.workflow, chain.version) == (case_id, "review", 1)
    assert chain.entries == len(engine.history(case_id)) == 4
    assert engine.audit_verify() == (1, [])


def test_a_changed_entry_is_named_as_verify_all_names_it(engine: Any) -> None:
    case_id = _approved(engine)
    _tamper(engine, case_id, 2, comment="nothing to see")
    chain = verify_one(engine, case_id, "ann")
    assert not chain.verified
    assert chain.problem is not None
    assert (chain.problem.case, chain.problem.seq) == (case_id, 2)
    assert "hash mismatch" in chain.problem.reason
    assert engine.audit_verify()[1] == [chain.problem]


def test_a_removed_entry_and_a_case_row_unlike_its_history_are_found(engine: Any) -> None:
    removed = _approved(engine)
    with engine.db.write() as conn:
        _bypass_history_guard(conn)
        history = tables.history.c
        conn.execute(delete(tables.history).where(history.case_id == removed, history.seq == 3))
    chain = verify_one(engine, removed, "ann")
    assert chain.problem is not None
    assert chain.problem.seq == 3
    assert chain.entries == 3

    moved = _approved(engine)
    with engine.db.write() as conn:  # the state changed by hand: the chain itself is intact
        conn.execute(
            update(tables.cases).where(tables.cases.c.id == moved).values(state="scheduled")
        )
    found = verify_one(engine, moved, "ann").problem
    assert found is not None
    assert found.seq == 0
    assert "disagrees with its history" in found.reason


def test_only_a_reader_of_the_case_is_told(make_engine: Any, workflows_dir: Path) -> None:
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")
    engine = make_engine()
    secret = engine.start("hr", {"title": "pay rise"}, actor="ann")
    with pytest.raises(NotFound) as hidden:
        verify_one(engine, secret.id, "bea")  # brand: not a reader, never acted
    with pytest.raises(NotFound) as missing:
        verify_one(engine, "0" * 32, "bea")
    assert str(hidden.value) == f"no case '{secret.id}'"
    assert str(missing.value) == f"no case '{'0' * 32}'"
    assert verify_one(engine, secret.id, "lou").verified  # legal reads hr cases
    assert verify_one(engine, secret.id, "ann").verified  # who started it


@pytest.mark.parametrize("steps", [1, 40])
def test_the_statements_do_not_grow_with_the_history(engine: Any, steps: int) -> None:
    case = engine.start("review", {"title": "x"}, actor="ann")
    for n in range(steps):
        engine.set(case.id, {"score": n}, actor="ann")
    verify_one(engine, case.id, "ann")  # the definition's version read once (cached)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.db.engine, "before_cursor_execute", seen)
    try:
        chain = verify_one(engine, case.id, "ann")
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", seen)
    assert chain.verified
    assert chain.entries == steps + 1
    assert len(statements) <= 5, statements
