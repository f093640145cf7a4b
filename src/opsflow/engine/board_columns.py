"""A workflow's board: its cases per state (counts and the newest cards), and where each
card may be moved by the person looking.

A board must not load every case: the counts are one grouped query, and each state's
newest cards are read along ``ix_cases_inbox``-like order (``updated_at`` desc), a fixed
number per state, merged into one statement. Each card is decided as a fire would decide it
(roles, four-eyes, guards, approvals already given, read for all cards at once): moving a
card to another state's column fires the one event that leads there, when there is exactly
one and the person may fire it now.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, func, select, union_all

from opsflow.core.preview import event_statuses
from opsflow.core.results import Case, EventStatus
from opsflow.core.step import Step
from opsflow.core.workflow_view import person_may_fire
from opsflow.engine import access, persist, unit
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import OpsflowError, Usage
from opsflow.store import tables

MAX_CARDS = 100  # cards a column may show at most


@dataclass(frozen=True)
class Move:
    """Moving a card to ``to``: the event it fires, or why it cannot be moved there."""

    to: str
    event: str | None  # the one event leading there (None: none or several do)
    allowed: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Card:
    """A case on the board, with its moves (by target state) for the person looking."""

    case: Case
    moves: dict[str, Move]


@dataclass(frozen=True)
class Column:
    """A state's column: how many cases the person may read there, and the newest ones."""

    state: str
    count: int
    cards: list[Card] = field(default_factory=list)


def state_counts(
    conn: Any, workflow: str, readable: ColumnElement[bool] | None = None
) -> dict[str, int]:
    """Cases of ``workflow`` per state (those matching ``readable``, when given)."""
    cases = tables.cases
    query = select(cases.c.state, func.count()).where(cases.c.workflow == workflow)
    if readable is not None:
        query = query.where(readable)
    return {s: int(n) for s, n in conn.execute(query.group_by(cases.c.state)).all()}


def board(
    engine: Any, workflow: str, actor: str | None = None, per_state: int = 25
) -> list[Column]:
    """The columns of ``workflow``'s board for ``actor``: one per state that has cases
    ``actor`` may read, each with its count and its ``per_state`` most recently changed
    cards. NotFound for an unknown workflow."""
    if not 1 <= per_state <= MAX_CARDS:
        raise Usage(f"a board column shows 1 to {MAX_CARDS} cards, not {per_state}")
    engine.definitions.current(workflow)  # NotFound for a workflow that does not exist
    name = engine.actor_name(actor)
    readable = access.readable_clause(engine, name)
    work = partial(_columns, workflow=workflow, actor=name, per_state=per_state, only=readable)
    columns: list[Column] = unit.read(engine, work)
    return columns


def card(engine: Any, case_id: str, actor: str | None = None) -> Card:
    """One case with its moves for ``actor`` (NotFound when ``actor`` may not read it)."""
    name = engine.actor_name(actor)

    def card_of(tx: CaseTransaction) -> Card:
        step = tx.open(case_id, reader=name)
        statuses = event_statuses(step, name)
        deadlines = persist.pending_deadlines(tx.conn, step.wf, step.case)
        view = step.case.view(step.wf.spec.title, deadlines=deadlines, events=statuses)
        return Card(view, moves_of(step, name, statuses))

    found: Card = unit.read(engine, card_of)
    return found


def moves_of(step: Step, actor: str, statuses: list[EventStatus]) -> dict[str, Move]:
    """Where the step's case may be moved, by target state: each other state that an event
    a person may fire leads to from its state."""
    wf, state = step.wf, step.case.state
    leading: dict[str, list[str]] = {}
    for event in wf.events:
        for t in wf.candidates(state, event):
            if t.to is not None and t.to != state and person_may_fire(t):
                events = leading.setdefault(t.to, [])
                if event not in events:
                    events.append(event)
    allowed = {s.event: s for s in statuses}
    out: dict[str, Move] = {}
    for to, events in leading.items():
        if len(events) > 1:
            several = ", ".join(events)
            out[to] = Move(to, None, False, (f"several events lead to '{to}': {several}",))
            continue
        (event,) = events
        status = allowed.get(event)
        if status is None or not status.allowed:
            out[to] = Move(to, event, False, tuple(status.reasons if status else ()))
            continue
        decision = step.decide(event, step.actor(actor))
        goes = decision.transition.to if decision.transition is not None else None
        if goes is not None and goes != to:
            out[to] = Move(to, event, False, (f"'{event}' leads to '{goes}' now",))
        else:
            out[to] = Move(to, event, True)
    return out


def _columns(
    tx: CaseTransaction,
    workflow: str,
    actor: str,
    per_state: int,
    only: ColumnElement[bool] | None,
) -> list[Column]:
    conn, cases = tx.conn, tables.cases
    counts = state_counts(conn, workflow, only)
    if not counts:
        return []
    where = [cases.c.workflow == workflow] + ([] if only is None else [only])
    newest = [
        select(cases.c.id)
        .where(cases.c.state == state, *where)
        .order_by(cases.c.updated_at.desc(), cases.c.id.desc())
        .limit(per_state)
        .subquery()
        for state in sorted(counts)
    ]
    ids = union_all(*(select(s.c.id) for s in newest))
    rows, _damaged = persist.readable_cases(conn, select(cases).where(cases.c.id.in_(ids)))
    rows.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
    found = [c.id for c in rows]
    deadlines = persist.pending_deadlines_by_case(conn, found) if found else {}
    voted = _approvals(conn, [c.id for c in rows if _votes(tx, c)])
    ctx = replace(tx.context(), approvals_of=partial(_voters, voted))
    columns = {state: Column(state, count) for state, count in counts.items()}
    for case in rows:
        try:
            wf = tx.pinned(case)
        except OpsflowError:
            continue  # a version that no longer loads: its cases are counted, not shown
        step = Step(wf, case, ctx)
        statuses = event_statuses(step, actor)
        view = case.view(wf.spec.title, deadlines=deadlines.get(case.id, []), events=statuses)
        columns[case.state].cards.append(Card(view, moves_of(step, actor, statuses)))
    return list(columns.values())


def _approvals(conn: Any, ids: list[str]) -> dict[tuple[str, int, str], set[str]]:
    """Who has approved what, by (case, visit, event), for the cards at once."""
    if not ids:
        return {}
    a = tables.approvals
    found: dict[tuple[str, int, str], set[str]] = {}
    query = select(a.c.case_id, a.c.visit, a.c.event, a.c.actor).where(a.c.case_id.in_(ids))
    for case_id, visit, event, who in conn.execute(query):
        found.setdefault((case_id, visit, event), set()).add(who)
    return found


def _voters(
    voted: dict[tuple[str, int, str], set[str]], case: str, visit: int, event: str
) -> set[str]:
    return voted.get((case, visit, event), set())


def _votes(tx: CaseTransaction, case: Any) -> bool:
    try:
        return case.state in tx.pinned(case).approval_states
    except OpsflowError:
        return False


__all__ = ["MAX_CARDS", "Card", "Column", "Move", "board", "card", "moves_of", "state_counts"]
