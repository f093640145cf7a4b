"""Delegation in the engine: the delegate acts with the delegator's roles between the dates
(both included, in the project's time zone), on_behalf_of in the history, four-eyes both
ways, approvals, notifications, the inbox and who may assign."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from opsflow.errors import NotPermitted
from opsflow.people import Delegation, Person
from project_cli import engine_workflows

# The clock fixture starts on Monday 2026-01-05 09:00 UTC.
MONDAY, FRIDAY = date(2026, 1, 5), date(2026, 1, 9)


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    return engine_workflows(tmp_path, "review", "desk")


def delegate(engine: Any, who: str, to: str, start: date | None, until: date | None) -> None:
    """``who`` is away: ``to`` covers, from ``start`` to ``until``."""
    engine.settings.people = {
        **engine.settings.people,
        who: Person(delegate=Delegation(to=to, start=start, until=until)),
    }


def in_review(engine: Any, author: str = "ann") -> Any:
    case = engine.start("review", {"title": "t"}, actor=author)
    engine.fire(case.id, "submit", actor=author)
    return engine.get(case.id)


def test_the_delegate_acts_with_the_delegators_roles_on_their_behalf(engine: Any) -> None:
    delegate(engine, "ed", "lou", MONDAY, FRIDAY)  # lou (legal) covers ed (editor)
    assert engine.roles_of("lou") == {"legal", "editor"}
    case = in_review(engine)
    result = engine.fire(case.id, "approve", actor="lou")
    assert result.case.state == "scheduled"
    entry = engine.history(case.id)[-1]
    assert (entry.actor, entry.event, entry.detail) == ("lou", "approve", {"on_behalf_of": "ed"})
    assert entry.to_json()["detail"] == {"on_behalf_of": "ed"}
    assert engine.get(case.id).data["approved_by"] == "lou"
    assert engine.audit_verify() == (1, [])


def test_own_roles_that_suffice_record_no_on_behalf_of(engine: Any) -> None:
    delegate(engine, "ed", "eve", MONDAY, FRIDAY)  # both editors
    case = in_review(engine)
    engine.fire(case.id, "approve", actor="eve")
    assert engine.history(case.id)[-1].detail == {}


@pytest.mark.parametrize(
    ("now", "zone", "active"),
    [
        (datetime(2026, 1, 4, 23, 59, tzinfo=UTC), "UTC", False),  # the day before `from`
        (datetime(2026, 1, 5, 0, 0, tzinfo=UTC), "UTC", True),  # `from` is included
        (datetime(2026, 1, 9, 23, 59, tzinfo=UTC), "UTC", True),  # `until` is included
        (datetime(2026, 1, 10, 0, 0, tzinfo=UTC), "UTC", False),
        # 2026-01-09 16:30 UTC is already 2026-01-10 in Shanghai: over there
        (datetime(2026, 1, 9, 16, 30, tzinfo=UTC), "Asia/Shanghai", False),
        # 2026-01-04 16:30 UTC is 2026-01-05 in Shanghai: begun there
        (datetime(2026, 1, 4, 16, 30, tzinfo=UTC), "Asia/Shanghai", True),
    ],
)
def test_a_delegation_counts_only_between_its_dates_in_the_project_zone(
    engine: Any, clock: Any, now: datetime, zone: str, active: bool
) -> None:
    engine.settings.timezone = zone
    delegate(engine, "ed", "lou", MONDAY, FRIDAY)
    clock.now = now
    case = in_review(engine)
    before = engine.get(case.id).row_version
    assert ("editor" in engine.roles_of("lou")) is active
    if active:
        assert engine.fire(case.id, "approve", actor="lou").case.state == "scheduled"
        return
    with pytest.raises(NotPermitted) as refused:
        engine.fire(case.id, "approve", actor="lou")
    assert refused.value.reasons == [
        f"approve → {to}: roles: needs one of editor (lou has legal)"
        for to in ("legal", "scheduled")
    ]
    after = engine.get(case.id)
    assert (after.state, after.row_version) == ("review", before)


def test_open_ended_dates(engine: Any, clock: Any) -> None:
    delegate(engine, "ed", "lou", None, None)
    assert "editor" in engine.roles_of("lou")
    delegate(engine, "ed", "lou", date(2026, 2, 1), None)
    assert "editor" not in engine.roles_of("lou")
    clock.now = datetime(2030, 1, 1, tzinfo=UTC)
    assert "editor" in engine.roles_of("lou")


def test_a_delegate_cannot_approve_what_the_delegator_submitted(engine: Any) -> None:
    delegate(engine, "both", "ed", MONDAY, FRIDAY)  # both (author and editor) is away
    case = in_review(engine, author="both")
    with pytest.raises(NotPermitted) as refused:
        engine.fire(case.id, "approve", actor="ed")  # an editor himself
    assert refused.value.reasons == [
        f"approve → {to}: four-eyes: both (for whom ed stands in) fired 'submit' on this case"
        for to in ("legal", "scheduled")
    ]
    assert engine.get(case.id).state == "review"


def test_the_delegator_cannot_approve_what_the_delegate_submitted_for_them(
    engine: Any, clock: Any
) -> None:
    delegate(engine, "both", "lou", MONDAY, FRIDAY)  # lou (legal) covers both
    case = engine.start("review", {"title": "t"}, actor="lou")
    engine.fire(case.id, "submit", actor="lou")  # needs author: lou acts for both
    assert engine.history(case.id)[-1].detail == {"on_behalf_of": "both"}
    clock.advance(days=7)  # both is back
    with pytest.raises(NotPermitted) as refused:
        engine.fire(case.id, "approve", actor="both")
    assert refused.value.reasons == [
        f"approve → {to}: four-eyes: both fired 'submit' on this case"
        for to in ("legal", "scheduled")
    ]


def test_a_delegate_cannot_add_a_second_approval_to_the_delegators(engine: Any) -> None:
    case = in_review(engine)
    engine.fire(case.id, "approve", actor="ed", data={"claims": True})  # review -> legal
    engine.fire(case.id, "approve", actor="lou")  # 1 of 2 (legal or brand)
    delegate(engine, "lou", "bea", MONDAY, FRIDAY)
    with pytest.raises(NotPermitted) as refused:
        engine.fire(case.id, "approve", actor="bea")
    assert refused.value.reasons == [
        "approve → scheduled: approval: lou (for whom bea stands in) has already approved"
    ]
    engine.settings.people = {}
    assert engine.fire(case.id, "approve", actor="bea").case.state == "scheduled"


def test_the_delegator_cannot_add_a_second_approval_to_one_given_for_them(engine: Any) -> None:
    case = in_review(engine)
    engine.fire(case.id, "approve", actor="ed", data={"claims": True})  # review -> legal
    delegate(engine, "lou", "eve", MONDAY, FRIDAY)  # eve (an editor) covers lou (legal)
    first = engine.fire(case.id, "approve", actor="eve")  # lou's vote, cast by eve
    assert first.outcome == "approval_recorded"
    entry = engine.history(case.id)[-1]
    assert (entry.actor, entry.detail["on_behalf_of"]) == ("eve", "lou")
    with pytest.raises(NotPermitted) as refused:
        engine.fire(case.id, "approve", actor="lou")  # one person, not a second approver
    assert refused.value.reasons == ["approve → scheduled: approval: lou has already approved"]
    assert engine.get(case.id).state == "legal"
    assert engine.fire(case.id, "approve", actor="bea").case.state == "scheduled"


def test_the_delegators_notifications_reach_the_delegate(engine: Any) -> None:
    delegate(engine, "eve", "lou", MONDAY, FRIDAY)  # eve (editor) away, lou covers
    case = in_review(engine)  # review notifies the editors
    assert [o.to for o in engine.outbox(case_id=case.id)] == ["editor, lou"]
    desk = engine.start("desk", {"title": "d"}, actor="ann")
    engine.fire(desk.id, "submit", actor="ann")  # round robin: both
    engine.fire(desk.id, "redo", actor="ed")  # next turn: ed
    engine.fire(desk.id, "redo", actor="ed")  # next turn: eve, away
    assert engine.get(desk.id).assignee == "eve"
    assert engine.outbox(case_id=desk.id)[0].to == "eve, lou"  # newest first
    engine.settings.people = {}
    engine.fire(desk.id, "remind", actor="ed")
    assert engine.outbox(case_id=desk.id)[0].to == "eve"


def test_the_inbox_lists_what_the_delegate_can_act_on_for_the_delegator(engine: Any) -> None:
    case = in_review(engine)
    assert case.id not in [c.id for c in engine.inbox("lou")]
    delegate(engine, "ed", "lou", MONDAY, FRIDAY)
    assert case.id in [c.id for c in engine.inbox("lou")]


def test_the_delegate_may_claim_and_be_assigned_with_the_delegators_roles(engine: Any) -> None:
    case = in_review(engine)
    with pytest.raises(NotPermitted):
        engine.claim(case.id, actor="lou")
    delegate(engine, "ed", "lou", MONDAY, FRIDAY)
    assert engine.claim(case.id, actor="lou").assignee == "lou"
    entry = engine.history(case.id)[-1]
    assert (entry.kind, entry.actor, entry.detail) == (
        "assignment",
        "lou",
        {"from": None, "to": "lou"},
    )
