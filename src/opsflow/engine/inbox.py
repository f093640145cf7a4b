"""A person's inbox, one keyset page at a time, at the same cost whatever the open cases.

The registered definitions (a small table) say in which (workflow, version, state) a
person's roles let them fire something; only open cases there are read, newest change
first (``updated_at`` desc, then ``id`` desc, each state along ``ix_cases_inbox``), in
batches. Each candidate is then decided as a fire would decide it: requires, four-eyes,
guards, approvals already given (read for a whole batch at once). A request reads at most
:data:`MAX_BATCHES` batches: a page may come back short with a ``next_cursor`` when most
candidates were not actionable; the next page goes on from there.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, union_all
from sqlalchemy.engine import Connection

from opsflow.core.actionable import inbox_events, states_for
from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.decide import Actor
from opsflow.core.delegation import actor_at
from opsflow.core.results import Case, CaseList, EventStatus
from opsflow.core.step import Step
from opsflow.core.working import WorkingCase
from opsflow.engine import persist
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import OpsflowError, Usage
from opsflow.store import tables
from opsflow.store.rows import readable_rows

MAX_PAGE = 200  # items a page may hold
MAX_BATCHES = 8  # candidate batches one request reads at most
MIN_BATCH = 50

Target = tuple[str, int, frozenset[str]]  # (workflow, version, states worth reading)
_TARGETS: dict[tuple[tuple[tuple[str, int, str], ...], frozenset[str]], list[Target]] = {}
_TARGETS_LOCK = threading.Lock()


class InboxPage(CaseList):
    """One page of an inbox; ``next_cursor`` continues it (None: nothing more)."""

    next_cursor: str | None

    def __init__(self, cases: Sequence[Case] = (), next_cursor: str | None = None) -> None:
        super().__init__(cases)
        self.next_cursor = next_cursor


def encode_cursor(updated_at: datetime, case_id: str) -> str:
    """An opaque cursor for the position after the case ``(updated_at, case_id)``."""
    raw = json.dumps([updated_at.isoformat(), case_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; Usage for anything not made by :func:`encode_cursor`."""
    try:
        if len(cursor) > 200:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, case_id = json.loads(raw)
        at = datetime.fromisoformat(when)
        if at.tzinfo is None or not isinstance(case_id, str) or len(case_id) > 32:
            raise ValueError("not a position")
        return at.astimezone(UTC), case_id  # OverflowError beyond year 1–9999 in UTC
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise Usage(
            "invalid inbox cursor", ["pass the next_cursor of the previous page as it was"]
        ) from exc


def _targets(tx: CaseTransaction, actor: Actor) -> tuple[list[Target], list[str]]:
    """Per registered version, the states where ``actor`` may act by role; and the versions
    that no longer load (their cases cannot be decided: named, not shown)."""
    defs = tx.shop.definitions
    versions = tx.conn.execute(
        select(tables.definitions.c.workflow, tables.definitions.c.version).order_by(
            tables.definitions.c.workflow, tables.definitions.c.version
        )
    ).all()
    compiled: list[CompiledWorkflow] = []
    broken: list[str] = []
    for workflow, version in versions:
        try:
            compiled.append(defs.pinned(tx.conn, workflow, version))
        except OpsflowError as exc:
            broken.append(f"workflow '{workflow}' version {version}: {exc.message}")
    key = (tuple((wf.id, wf.version, wf.hash) for wf in compiled), actor.roles)
    found = _TARGETS.get(key)
    if found is None:
        found = [(wf.id, wf.version, s) for wf in compiled if (s := states_for(wf, actor))]
        with _TARGETS_LOCK:
            if len(_TARGETS) > 512:  # a long-running service sees a few role sets
                _TARGETS.clear()
            _TARGETS[key] = found
    return found, broken


def _candidates(
    conn: Connection,
    targets: list[Target],
    where: Sequence[ColumnElement[bool]],
    after: tuple[datetime, str] | None,
    size: int,
    mine: bool,
) -> tuple[list[tuple[datetime, str]], list[str]]:
    """The next ``size`` open cases in ``targets`` after ``after``: their (updated_at, id).

    Each (workflow, state) is read along ``ix_cases_inbox``, ``size`` deep at most, and the
    reads are merged: the cost is a page per state, whatever the number of cases. The cases
    assigned to a person are few: they are read by ``ix_cases_assignee`` in one query.
    """
    cases = tables.cases
    versions: dict[tuple[str, str], list[int]] = {}
    for workflow, version, states in targets:
        for state in sorted(states):
            versions.setdefault((workflow, state), []).append(version)
    terms: list[ColumnElement[bool]] = [cases.c.closed.is_(False), *where]
    if after is not None:
        at, case_id = after  # `<=` first, so that each read starts from the cursor (a range)
        terms.append(cases.c.updated_at <= at)
        terms.append(or_(cases.c.updated_at < at, cases.c.id < case_id))
    newest = (cases.c.updated_at.desc(), cases.c.id.desc())
    if mine:
        query = (
            select(cases.c.updated_at, cases.c.id)
            .where(
                *terms,
                or_(
                    *(
                        and_(cases.c.workflow == w, cases.c.state == s, cases.c.version.in_(v))
                        for (w, s), v in versions.items()
                    )
                ),
            )
            .order_by(*newest)
            .limit(size)
        )
    else:
        reads = [
            select(cases.c.updated_at, cases.c.id)
            .where(cases.c.workflow == w, cases.c.state == s, cases.c.version.in_(v), *terms)
            .order_by(*newest)
            .limit(size)
            .subquery()
            for (w, s), v in versions.items()
        ]
        merged = union_all(*(select(r.c.updated_at, r.c.id) for r in reads)).subquery()
        query = (
            select(merged.c.updated_at, merged.c.id)
            .order_by(merged.c.updated_at.desc(), merged.c.id.desc())
            .limit(size)
        )
    rows, unreadable = readable_rows(conn, query)
    return [(r["updated_at"], r["id"]) for r in rows], [str(e) for _raw, e in unreadable]


def _approvals(conn: Connection, ids: list[str]) -> dict[tuple[str, int, str], set[str]]:
    """Who has approved what, by (case, visit, event), for a batch of cases."""
    if not ids:
        return {}
    a = tables.approvals
    found: dict[tuple[str, int, str], set[str]] = {}
    rows = conn.execute(
        select(a.c.case_id, a.c.visit, a.c.event, a.c.actor).where(a.c.case_id.in_(ids))
    )
    for case_id, visit, event, who in rows:
        found.setdefault((case_id, visit, event), set()).add(who)
    return found


def page(
    tx: CaseTransaction,
    actor: str,
    limit: int,
    cursor: str | None = None,
    mine: bool = False,
    readable: ColumnElement[bool] | None = None,
) -> InboxPage:
    """Up to ``limit`` open cases where ``actor`` can fire an event now, and a cursor.

    ``mine``: only the cases assigned to ``actor``. ``readable``: a WHERE clause over
    ``cases`` for the cases ``actor`` may read (None: every case).
    """
    after = decode_cursor(cursor) if cursor else None
    targets, unreadable = _targets(tx, actor_at(tx.shop.settings, actor, tx.now))
    chosen: list[Chosen] = []
    if not targets:
        return _finish(tx.conn, chosen, None, unreadable)
    where: list[ColumnElement[bool]] = [] if readable is None else [readable]
    if mine:
        where.append(tables.cases.c.assignee == actor)
    conn, context = tx.conn, tx.context()
    size = max(MIN_BATCH, 2 * limit)
    for _ in range(MAX_BATCHES):
        keys, damaged_keys = _candidates(conn, targets, where, after, size, mine)
        unreadable += damaged_keys
        if not keys:
            return _finish(conn, chosen, None, unreadable)
        rows, damaged = persist.readable_cases(
            conn, select(tables.cases).where(tables.cases.c.id.in_([i for _at, i in keys]))
        )
        unreadable += [str(d) for d in damaged]
        loaded = {case.id: case for case in rows}
        voted = _approvals(conn, [c.id for c in rows if _votes(tx, c)])
        ctx = replace(context, approvals_of=partial(_voters, voted))
        for position, key in enumerate(keys):
            after = key
            case = loaded.get(key[1])
            if case is not None and (item := _actionable(tx, case, ctx, actor)) is not None:
                chosen.append(item)
                if len(chosen) >= limit:
                    more = position < len(keys) - 1 or len(keys) == size
                    return _finish(conn, chosen, after if more else None, unreadable)
        if len(keys) < size:
            return _finish(conn, chosen, None, unreadable)
    return _finish(conn, chosen, after, unreadable)  # the budget is spent: go on from here


Chosen = tuple[WorkingCase, CompiledWorkflow, list[EventStatus]]


def _finish(
    conn: Connection,
    chosen: list[Chosen],
    after: tuple[datetime, str] | None,
    unreadable: list[str],
) -> InboxPage:
    """The page: each case with its pending deadlines (one query) and its events."""
    ids = [case.id for case, _wf, _events in chosen]
    deadlines = persist.pending_deadlines_by_case(conn, ids) if ids else {}
    found = InboxPage(
        [
            case.view(wf.spec.title, deadlines=deadlines.get(case.id, []), events=events)
            for case, wf, events in chosen
        ],
        encode_cursor(*after) if after is not None else None,
    )
    found.unreadable = unreadable
    return found


def _voters(
    voted: dict[tuple[str, int, str], set[str]], case: str, visit: int, event: str
) -> set[str]:
    return voted.get((case, visit, event), set())


def _votes(tx: CaseTransaction, case: WorkingCase) -> bool:
    try:
        return case.state in tx.pinned(case).approval_states
    except OpsflowError:
        return False


def _actionable(tx: CaseTransaction, case: WorkingCase, ctx: Any, actor: str) -> Chosen | None:
    """The case with the events ``actor`` may fire now, or None when there are none."""
    try:
        wf = tx.pinned(case)  # compiled already when its version is one of the targets
    except OpsflowError:
        return None  # a version that no longer loads: named by _targets
    events = inbox_events(Step(wf, case, ctx), actor)
    return (case, wf, events) if events else None


def everything(
    tx: CaseTransaction,
    actor: str,
    mine: bool = False,
    readable: ColumnElement[bool] | None = None,
) -> InboxPage:
    """The whole inbox (the CLI's): every page, one after another, in one transaction."""
    found = InboxPage()
    cursor: str | None = None
    while True:
        more = page(tx, actor, MAX_PAGE, cursor, mine, readable)
        found += more
        found.unreadable += [u for u in more.unreadable if u not in found.unreadable]
        cursor = more.next_cursor
        if cursor is None:
            return found


__all__ = ["MAX_PAGE", "InboxPage", "decode_cursor", "encode_cursor", "everything", "page"]
