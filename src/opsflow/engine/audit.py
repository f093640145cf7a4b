"""Checking the tamper-evident history: every case's hash chain (SPEC §6)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from opsflow.engine.persist import entry_payload
from opsflow.engine.results import AuditProblem
from opsflow.store import tables as t
from opsflow.store.hashing import GENESIS, chain_hash


def verify_case(
    case_id: str, last_seq: int, last_hash: str, rows: list[dict[str, object]]
) -> AuditProblem | None:
    """The first broken entry of one case's chain, or None."""
    prev = GENESIS
    expected_seq = 1
    for row in rows:
        seq = int(row["seq"])  # type: ignore[call-overload]
        if seq != expected_seq:
            return AuditProblem(case_id, expected_seq, f"entry {expected_seq} is missing")
        if row["prev_hash"] != prev:
            return AuditProblem(
                case_id, seq, "previous-hash link broken (entry removed or reordered)"
            )
        payload = {
            "seq": seq,
            "at": row["at"],
            "actor": row["actor"],
            "kind": row["kind"],
            "event": row["event"],
            "from_state": row["from_state"],
            "to_state": row["to_state"],
            "data_changes": row["data_changes"],
            "comment": row["comment"],
            "detail": row["detail"],
        }
        if chain_hash(prev, case_id, entry_payload(payload)) != row["hash"]:
            return AuditProblem(case_id, seq, "hash mismatch: the entry was changed")
        prev = str(row["hash"])
        expected_seq += 1
    if expected_seq - 1 != last_seq:
        return AuditProblem(
            case_id, expected_seq, f"history ends at entry {expected_seq - 1}, case says {last_seq}"
        )
    if prev != last_hash:
        return AuditProblem(case_id, max(expected_seq - 1, 1), "last hash differs from the case's")
    return None


def verify_all(conn: Connection) -> tuple[int, list[AuditProblem]]:
    """Check every case; returns (cases checked, problems)."""
    problems: list[AuditProblem] = []
    cases = conn.execute(
        select(t.cases.c.id, t.cases.c.seq, t.cases.c.last_hash).order_by(t.cases.c.id)
    ).all()
    for case_id, last_seq, last_hash in cases:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(t.history).where(t.history.c.case_id == case_id).order_by(t.history.c.seq)
            )
        ]
        problem = verify_case(case_id, last_seq, last_hash, rows)
        if problem is not None:
            problems.append(problem)
    known = {c[0] for c in cases}
    orphans = conn.execute(
        select(t.history.c.case_id, t.history.c.seq).where(t.history.c.case_id.not_in(known))
        if known
        else select(t.history.c.case_id, t.history.c.seq)
    ).all()
    seen: set[str] = set()
    for case_id, seq in orphans:
        if case_id not in seen:
            seen.add(case_id)
            problems.append(AuditProblem(case_id, seq, "history of a case that no longer exists"))
    return len(cases), problems
