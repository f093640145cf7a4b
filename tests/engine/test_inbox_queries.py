"""The inbox's first page runs the same SQL statements with 10 or 300 open cases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def counted(engine: Any) -> Iterator[list[str]]:
    """Every statement sent to the database while the block runs."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", count)


def _first_page(engine: Any, actor: str) -> tuple[list[str], int]:
    engine.inbox(actor, limit=50)  # warm: this process has compiled the registered versions
    with counted(engine) as statements:
        page = engine.inbox(actor, limit=50)
    return statements, len(page)


def _open_cases(engine: Any, clock: Any, n: int) -> None:
    for k in range(n):
        engine.start("review", {"title": f"case {k}"}, actor="ann")
    clock.advance(seconds=1)
    # the newest: a vote under way in legal, so the batch reads approvals too
    vote = engine.start("review", {"title": "vote", "claims": True}, actor="ann")
    engine.fire(vote.id, "submit", actor="ann")
    engine.fire(vote.id, "approve", actor="ed")
    engine.fire(vote.id, "approve", actor="lou")
    clock.advance(seconds=1)


def test_the_first_page_costs_the_same_statements_with_10_or_300_cases(
    engine: Any, clock: Any
) -> None:
    _open_cases(engine, clock, 9)
    few, shown_few = _first_page(engine, "dir")  # a director may cancel every open case
    assert shown_few == 10
    _open_cases(engine, clock, 290)
    many, shown_many = _first_page(engine, "dir")
    assert shown_many == 50
    assert len(many) == len(few), (few, many)
    assert len(few) <= 5  # versions, candidates, their rows, votes, deadlines
    assert sum("approvals" in s for s in many) == 1  # one read of the votes per batch
