"""``engine.board_columns``: a workflow's cases per state, the newest cards, and their moves."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from opsflow.engine import access
from opsflow.engine.board_columns import board, card
from opsflow.errors import NotFound, Usage

SEARCH_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"


def submitted(engine: Any, title: str, **data: Any) -> str:
    case = engine.start("review", data={"title": title, **data}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def test_columns_count_every_readable_case_and_show_the_newest(engine: Any, clock: Any) -> None:
    ids = []
    for n in range(5):
        ids.append(submitted(engine, f"case {n}"))
        clock.advance(minutes=1)
    engine.start("review", data={"title": "a draft"}, actor="ann")
    columns = {c.state: c for c in board(engine, "review", actor="ed", per_state=3)}
    assert set(columns) == {"draft", "review"}
    assert (columns["review"].count, columns["draft"].count) == (5, 1)
    shown = [c.case.id for c in columns["review"].cards]
    assert shown == list(reversed(ids))[:3]  # the most recently changed first


def test_a_move_fires_the_one_event_leading_there_when_allowed(engine: Any) -> None:
    plain = submitted(engine, "plain")  # review -> scheduled by approve (no claims)
    (review,) = [c for c in board(engine, "review", actor="ed") if c.state == "review"]
    moves = review.cards[0].moves
    assert review.cards[0].case.id == plain
    assert (moves["scheduled"].event, moves["scheduled"].allowed) == ("approve", True)
    # approve also leads to legal, but for this case it goes to scheduled
    assert moves["legal"].allowed is False
    assert moves["legal"].reasons == ("'approve' leads to 'scheduled' now",)
    assert (moves["rejected"].event, moves["rejected"].allowed) == ("cancel", True)
    assert "review" not in moves  # escalate stays where it is: not a move


def test_a_move_the_person_may_not_make_says_why(engine: Any) -> None:
    case = engine.start("review", data={"title": "mine"}, actor="both")
    engine.fire(case.id, "submit", actor="both")
    moves = card(engine, case.id, actor="both").moves
    assert moves["scheduled"].allowed is False  # four-eyes: both submitted it
    assert any("submit" in reason for reason in moves["scheduled"].reasons)
    draft = engine.start("review", data={"title": "draft"}, actor="ann")
    refused = card(engine, draft.id, actor="pat").moves["review"]
    assert (refused.event, refused.allowed) == ("submit", False)
    assert refused.reasons


def test_a_hidden_workflow_shows_nothing(engine: Any, workflows_dir: Path) -> None:
    shutil.copy(SEARCH_FIXTURES / "secret.yaml", workflows_dir / "secret.yaml")
    engine.start("secret", {"title": "hidden"}, actor="lou")
    access.restrictions(engine, fresh=True)
    assert board(engine, "secret", actor="ann") == []
    (column,) = board(engine, "secret", actor="lou")
    assert (column.state, column.count, len(column.cards)) == ("open", 1, 1)


def test_an_unknown_workflow_or_a_bad_bound_is_refused(engine: Any) -> None:
    with pytest.raises(NotFound):
        board(engine, "nope", actor="ed")
    with pytest.raises(Usage):
        board(engine, "review", actor="ed", per_state=0)


@pytest.mark.parametrize("cases", [2, 40])
def test_a_board_runs_the_same_statements_whatever_the_cases(engine: Any, cases: int) -> None:
    for n in range(cases):
        submitted(engine, f"case {n}", claims=n % 2 == 0)
    board(engine, "review", actor="ed")  # definitions loaded
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.db.engine, "before_cursor_execute", seen)
    try:
        board(engine, "review", actor="lou")
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", seen)
    assert len(statements) <= 6, statements
