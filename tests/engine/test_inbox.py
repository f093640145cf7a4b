"""The inbox: only actionable cases, keyset pages, ``mine``, on both backends."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine import inbox
from opsflow.errors import Usage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def engine(make_engine: Any, workflows_dir: Path) -> Any:
    shutil.copy(FIXTURES / "inbox" / "gate.yaml", workflows_dir / "gate.yaml")
    return make_engine()


def _all_pages(engine: Any, actor: str, limit: int, **options: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = engine.inbox(actor, limit=limit, cursor=cursor, **options)
        pages.append([c.id for c in page])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_pages_cover_the_inbox_once_newest_change_first(engine: Any, clock: Any) -> None:
    made = []
    for n in range(7):
        made.append(engine.start("review", {"title": f"t{n}"}, actor="ann").id)
        if n % 2:
            clock.advance(minutes=1)  # pairs share an updated_at: the id breaks the tie
    whole = engine.inbox("ann")
    assert whole.next_cursor is None
    assert sorted(c.id for c in whole) == sorted(made)
    keys = [(c.updated_at, c.id) for c in whole]
    assert keys == sorted(keys, reverse=True)
    pages = _all_pages(engine, "ann", 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [c.id for c in whole]


def test_a_case_that_changes_between_pages_is_not_shown_twice(engine: Any, clock: Any) -> None:
    ids = []
    for n in range(4):
        ids.append(engine.start("review", {"title": f"t{n}"}, actor="ann").id)
        clock.advance(minutes=1)
    first = engine.inbox("ann", limit=2)
    assert [c.id for c in first] == [ids[3], ids[2]]
    engine.set(ids[3], {"score": 5}, actor="ann")  # newer now: before the cursor
    rest = engine.inbox("ann", limit=2, cursor=first.next_cursor)
    assert [c.id for c in rest] == [ids[1], ids[0]]


def test_only_actionable_cases_and_events_are_offered(engine: Any) -> None:
    # four-eyes: "both" submitted it, so may not approve it (cancel, as an editor, stays)
    own = engine.start("review", {"title": "own"}, actor="both")
    engine.fire(own.id, "submit", actor="both")
    offered = {c.id: [e.event for e in c.events] for c in engine.inbox("both")}
    assert offered[own.id] == ["cancel"]
    assert [e.event for e in engine.inbox("ed")[0].events] == ["approve", "cancel"]
    # an approval already given is not offered again; the veto keeps reject and cancel
    vote = engine.start("review", {"title": "vote", "claims": True}, actor="ann")
    engine.fire(vote.id, "submit", actor="ann")
    engine.fire(vote.id, "approve", actor="ed")
    engine.fire(vote.id, "approve", actor="lou")
    events = {c.id: [e.event for e in c.events] for c in engine.inbox("lou")}
    assert events[vote.id] == ["reject", "cancel"]
    assert [e.event for e in engine.inbox("bea")[0].events] == ["approve", "reject", "cancel"]
    # a guard that is false
    small = engine.start("gate", {"title": "small", "amount": 50}, actor="ann")
    engine.start("gate", {"title": "big", "amount": 500}, actor="ann")
    assert [c.id for c in engine.inbox("ed") if c.workflow == "gate"] == [small.id]
    # no role, nothing to do (tester holds no role; the open-to-anyone events are timers')
    assert engine.inbox("tester") == []
    assert engine.inbox("pat") == []


def test_mine_keeps_the_cases_assigned_to_the_actor(engine: Any, clock: Any) -> None:
    cases = []
    for n in range(5):
        cases.append(engine.start("review", {"title": f"t{n}"}, actor="ann").id)
        clock.advance(seconds=1)
    engine.assign(cases[1], "ann", actor="ann")
    engine.assign(cases[3], "ann", actor="ann")
    engine.assign(cases[4], "both", actor="ann")
    mine = sorted([cases[1], cases[3]], reverse=True)  # assigned at one time: by id
    assert [c.id for c in engine.inbox("ann", mine=True)] == mine
    assert _all_pages(engine, "ann", 1, mine=True) == [[mine[0]], [mine[1]]]
    assert len(engine.inbox("ann")) == 5
    assert engine.inbox("ed", mine=True) == []


def test_a_page_read_within_its_budget_may_be_short_but_goes_on(
    engine: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "MIN_BATCH", 2)
    monkeypatch.setattr(inbox, "MAX_BATCHES", 1)
    small = engine.start("gate", {"title": "small", "amount": 1}, actor="ann").id
    for n in range(5):  # newer, not signable
        clock.advance(seconds=1)
        engine.start("gate", {"title": f"big{n}", "amount": 500}, actor="ann")
    pages = _all_pages(engine, "ed", 1)
    assert pages[0] == []  # the budget was spent on cases ed cannot sign
    assert [i for p in pages for i in p] == [small]
    assert [c.id for c in engine.inbox("ed")] == [small]  # the CLI's whole inbox


@pytest.mark.parametrize("limit", [0, -1, 201, 100_000])
def test_a_page_holds_1_to_200_cases(engine: Any, limit: int) -> None:
    with pytest.raises(Usage, match="1 to 200"):
        engine.inbox("ann", limit=limit)


@pytest.mark.parametrize(
    "cursor", ["nope", "x' OR 1=1 --", "案例", "", "e30", inbox.encode_cursor.__name__ * 20]
)
def test_a_cursor_not_made_by_the_inbox_is_refused(engine: Any, cursor: str) -> None:
    engine.start("review", {"title": "t"}, actor="ann")
    if cursor == "":
        assert len(engine.inbox("ann", limit=5, cursor=cursor)) == 1  # no cursor: page 1
        return
    with pytest.raises(Usage, match="invalid inbox cursor"):
        engine.inbox("ann", limit=5, cursor=cursor)


def test_a_cursor_round_trips() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    assert inbox.decode_cursor(inbox.encode_cursor(at, "ab" * 16)) == (at, "ab" * 16)
