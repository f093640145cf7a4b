"""Checking the tamper-evident history (SPEC §6): every case's hash chain, its replay
against the case row, and, given a digest taken earlier, truncation and deleted cases;
or one case's, for a reader of that case (``verify_one``: the board's chain badge)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from opsflow.core.replay import differences, replay
from opsflow.core.results import AuditProblem
from opsflow.engine import access, persist
from opsflow.engine.digest import Digest
from opsflow.engine.persist import entry_payload
from opsflow.errors import NotFound, OpsflowError
from opsflow.store import tables
from opsflow.store.hashing import GENESIS, chain_hash
from opsflow.store.rows import readable_rows

FinalsOf = Callable[[str, int], frozenset[str] | None]  # (workflow, version) -> final states
ROW = 0  # the "seq" of a problem with a row rather than a history entry


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
        if chain_hash(prev, case_id, entry_payload(_payload(row))) != row["hash"]:
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


def _payload(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("seq", "at", "actor", "kind", "event", "from_state", "to_state")
    return {k: row[k] for k in (*keys, "data_changes", "comment", "detail")}


def verify_all(
    conn: Connection, finals_of: FinalsOf | None = None, against: Digest | None = None
) -> tuple[int, list[AuditProblem]]:
    """Check every case (and the digest ``against``, if given); returns (cases, problems)."""
    cases, problems = readable_rows(conn, select(tables.cases).order_by(tables.cases.c.id))
    found = [AuditProblem(str(raw.get("id")), ROW, str(error)) for raw, error in problems]
    approvals = _by_case(conn, tables.approvals, found)
    _by_case(conn, tables.deadlines, found)  # only unreadable rows matter here
    for case in cases:
        problem = _check_case(conn, case, approvals.get(case["id"], []), finals_of, against)
        if problem is not None:
            found.append(problem)
    known = {c["id"] for c in cases} | {p.case for p in found}
    found += _orphans(conn, known)
    if against is not None:
        found += against.deleted(known)
    return len(cases) + len(problems), found


def _check_case(
    conn: Connection,
    case: dict[str, Any],
    approvals: list[dict[str, Any]],
    finals_of: FinalsOf | None,
    against: Digest | None,
) -> AuditProblem | None:
    """The first problem of one case: an unreadable entry, a broken chain, a row that
    disagrees with the replay, or a history the digest says was longer or different."""
    case_id = case["id"]
    query = (
        select(tables.history)
        .where(tables.history.c.case_id == case_id)
        .order_by(tables.history.c.seq)
    )
    rows, damaged = readable_rows(conn, query)
    if damaged:
        raw, error = damaged[0]
        return AuditProblem(case_id, int(raw.get("seq") or ROW), str(error))
    problem = verify_case(case_id, case["seq"], case["last_hash"], rows)
    if problem is None and against is not None:
        problem = against.check(case_id, rows)
    if problem is not None:
        return problem
    finals = finals_of(case["workflow"], case["version"]) if finals_of else None
    found = differences(replay(rows), case, approvals, finals)
    if found:
        return AuditProblem(
            case_id, ROW, "case row disagrees with its history: " + "; ".join(found)
        )
    return None


@dataclass(frozen=True)
class CaseChain:
    """One case's history as checked: how many entries were read, and the first problem."""

    case: str
    workflow: str
    version: int
    entries: int
    problem: AuditProblem | None

    @property
    def verified(self) -> bool:
        return self.problem is None


def verify_one(engine: access.Reader, case_id: str, actor: str) -> CaseChain:
    """Check one case as ``verify_all`` checks each (its hash chain, then its replay against
    the case row), in a few statements whatever its length; NotFound, as for a missing case,
    when ``actor`` may not read it."""
    with engine.db.read() as conn:
        full_id = persist.resolve_case_id(conn, case_id)
        query = select(tables.cases).where(tables.cases.c.id == full_id)
        found, damaged = readable_rows(conn, query)
        if not found and not damaged:
            raise NotFound(f"no case '{case_id}'")
        if access.restricts(engine, conn, actor):
            case = persist.load_case(conn, full_id)
            access.check_readable(engine, conn, actor, case, asked=case_id)
        if damaged:
            raw, error = damaged[0]
            workflow, version = str(raw.get("workflow")), int(raw.get("version") or 0)
            return CaseChain(full_id, workflow, version, 0, AuditProblem(full_id, ROW, str(error)))
        return _chain_of(engine, conn, found[0])


def _chain_of(engine: access.Reader, conn: Connection, case: dict[str, Any]) -> CaseChain:
    history = tables.history
    count = select(func.count()).select_from(history).where(history.c.case_id == case["id"])
    entries = int(conn.execute(count).scalar_one())
    query = select(tables.approvals).where(tables.approvals.c.case_id == case["id"])
    approvals, unreadable = readable_rows(conn, query)

    def finals_of(workflow: str, version: int) -> frozenset[str] | None:
        try:
            finals: frozenset[str] = engine.definitions.pinned(conn, workflow, version).finals
            return finals
        except OpsflowError:
            return None  # a version that no longer loads: closed is not checked

    problem = (
        AuditProblem(case["id"], ROW, str(unreadable[0][1]))
        if unreadable
        else _check_case(conn, case, approvals, finals_of, None)
    )
    return CaseChain(case["id"], case["workflow"], case["version"], entries, problem)


def _by_case(conn: Connection, table: Any, found: list[AuditProblem]) -> dict[str, list[Any]]:
    """The readable rows of ``table`` by case; each unreadable one added to ``found``."""
    rows, damaged = readable_rows(conn, select(table))
    for raw, error in damaged:
        found.append(AuditProblem(str(raw.get("case_id", raw.get("id"))), ROW, str(error)))
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row["case_id"], []).append(row)
    return grouped


def _orphans(conn: Connection, known: set[str]) -> list[AuditProblem]:
    h = tables.history.c
    query = select(h.case_id, h.seq).order_by(h.case_id, h.seq)
    if known:
        query = query.where(h.case_id.not_in(known))
    seen: set[str] = set()
    found = []
    for case_id, seq in conn.execute(query).all():
        if case_id not in seen:
            seen.add(case_id)
            found.append(AuditProblem(case_id, seq, "history of a case that no longer exists"))
    return found
