"""The database side of automatic assignment and delegation, for a step's context.

``round_robin`` keeps, per (workflow, state), the last person it gave a case to, in
``assign_turns``. The step reads that row locked (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's write transactions are serial already), gives the case to the next
holder of the role and writes the row back, in the step's own transaction: concurrent
starts on any number of hosts take their turns one after another, and a step that rolls
back gives its turn back. Two steps creating the row at once collide on its key; the loser's
unit of work is tried again and finds the row.

``least_open`` counts, in one query on ``ix_cases_assignee`` (assignee, closed), the open
cases assigned to each holder; the one with the fewest gets the case (ties: by name). It
counts under the same row's lock, so concurrent starts into one state see each other's
choices (cases entering different states of the same role are not serialized with them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.engine import Connection

from opsflow.core.delegation import covering_at
from opsflow.engine import persist
from opsflow.store import tables


class Transaction(Protocol):
    """What :func:`step_parts` reads of a unit of work's transaction (``CaseTransaction``)."""

    conn: Connection
    now: datetime
    writing: bool
    shop: Any


def step_parts(tx: Transaction) -> dict[str, Any]:
    """What a step's context reads beyond the case: the approvals of a visit, who stands in
    for whom now, and (when writing) the turns of automatic assignment."""
    conn, shop = tx.conn, tx.shop
    row_locks = shop.db.row_locks
    return {
        "approvals_of": partial(persist.approvals_of, conn),
        "covering": covering_at(shop.settings, tx.now),
        "pick_holder": partial(pick_holder, conn, row_locks, tx.now) if tx.writing else None,
    }


def pick_holder(
    conn: Connection,
    row_locks: bool,
    now: datetime,
    policy: str,
    workflow: str,
    state: str,
    holders: Sequence[str],
    case_id: str,
) -> str:
    """The holder (of ``holders``, sorted) who gets the case under ``policy``.

    Both policies decide under the lock of the (workflow, state)'s ``assign_turns`` row, so
    concurrent steps into one state choose one after the other: a burst of starts is spread
    by ``least_open`` as by ``round_robin``, not all given to whoever had fewest before it.
    """
    choose: Callable[[str | None], str]
    if policy == "least_open":
        choose = partial(_fewest, conn, holders, case_id)
    else:
        choose = partial(_after, holders)
    return take_turn(conn, row_locks, now, workflow, state, choose)


def _after(holders: Sequence[str], last: str | None) -> str:
    """The holder after ``last`` by name, round the end (the first when none went before)."""
    if last is None:
        return holders[0]
    return next((h for h in holders if h > last), holders[0])


def _fewest(conn: Connection, holders: Sequence[str], case_id: str, _last: str | None) -> str:
    return least_open(conn, holders, case_id)


def take_turn(
    conn: Connection,
    row_locks: bool,
    now: datetime,
    workflow: str,
    state: str,
    choose: Callable[[str | None], str],
) -> str:
    """``choose(last)`` under the (workflow, state)'s turn row (locked, or made), recorded
    as the last one given a case; ``last`` is None for the first turn."""
    turns = tables.assign_turns
    key = (turns.c.workflow == workflow) & (turns.c.state == state)
    query = select(turns.c.last_assignee, turns.c.turns).where(key)
    if row_locks:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        chosen = choose(None)
        conn.execute(
            insert(turns).values(
                workflow=workflow, state=state, last_assignee=chosen, turns=1, updated_at=now
            )
        )
        return chosen
    chosen = choose(row.last_assignee)
    conn.execute(
        update(turns).where(key).values(last_assignee=chosen, turns=row.turns + 1, updated_at=now)
    )
    return chosen


def least_open(conn: Connection, holders: Sequence[str], case_id: str) -> str:
    """The holder with the fewest open cases assigned to them (this one left out)."""
    counts = {name: count for name, count in conn.execute(open_counts(holders, case_id))}
    return min(holders, key=lambda name: (counts.get(name, 0), name))


def open_counts(holders: Sequence[str], case_id: str) -> Select[Any]:
    """How many open cases (``case_id`` aside) each of ``holders`` holds: one grouped query
    on ``ix_cases_assignee`` (assignee, closed)."""
    cases = tables.cases
    return (
        select(cases.c.assignee, func.count())
        .where(cases.c.assignee.in_(holders), cases.c.closed.is_(False), cases.c.id != case_id)
        .group_by(cases.c.assignee)
    )
