"""Internal transitions (no ``to``): the case stays in the same visit of its state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opsflow.store import tables as t

NAG = """\
workflow: nag
version: 1
roles: [author, editor]
fields:
  title: {type: string, required: true}
  note: {type: string}
  reminded: {type: integer, default: 0}
states:
  draft: {initial: true}
  review:
    sla: {within: 2d, fire: remind}
    on_enter: [notify: {channel: chat, to: editor, message: "entered"}]
    on_exit: [notify: {channel: chat, to: editor, message: "left"}]
  done: {final: true}
transitions:
  - {event: submit, from: draft, to: review, roles: [author]}
  - event: remind
    from: review
    roles: [system]
    do:
      - set: {reminded: "reminded + 1"}
      - notify: {channel: chat, to: editor, message: "reminder {{ reminded }}"}
  - event: comment
    from: "*"
    do:
      - set: {note: "'seen by ' + actor.name"}
      - notify: {channel: chat, to: author, message: "{{ note }}"}
  - {event: approve, from: review, to: done, roles: [editor], approvals: {required: 2}}
"""


@pytest.fixture
def nag(make_engine: Any, workflows_dir: Path) -> Any:
    (workflows_dir / "nag.yaml").write_text(NAG, encoding="utf-8")
    return make_engine()


def _in_review(engine: Any) -> str:
    case = engine.start("nag", {"title": "Plan"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def _messages(engine: Any, case_id: str) -> list[str]:
    return [o.message for o in reversed(engine.outbox(case_id=case_id))]


def _deadlines(engine: Any, case_id: str) -> list[tuple[str, str, Any]]:
    d = t.deadlines
    with engine.db.read() as conn:
        rows = conn.execute(
            select(d.c.event, d.c.status, d.c.due_at).where(d.c.case_id == case_id).order_by(d.c.id)
        ).all()
    return [(r.event, r.status, r.due_at) for r in rows]


def _visit(engine: Any, case_id: str) -> int:
    with engine.db.read() as conn:
        visit = select(t.cases.c.visit).where(t.cases.c.id == case_id)
        return int(conn.execute(visit).scalar_one())


def test_an_internal_transition_runs_its_actions_and_keeps_the_visit(nag: Any, clock: Any) -> None:
    case_id = _in_review(nag)
    before = nag.status(case_id)
    visit = _visit(nag, case_id)
    clock.advance(hours=3)
    result = nag.fire(case_id, "comment", actor="ed")
    assert result.outcome == "transitioned"
    after = result.case
    assert (after.state, after.entered_at) == ("review", before.entered_at)
    assert after.data["note"] == "seen by ed"
    assert _visit(nag, case_id) == visit
    # on_enter ran once, at submit; on_exit never; the comment's own notify ran
    assert _messages(nag, case_id) == ["entered", "seen by ed"]
    entry = nag.history(case_id)[-1]
    assert (entry.kind, entry.event, entry.actor) == ("transition", "comment", "ed")
    assert entry.from_state == entry.to_state == "review"
    assert entry.data_changes == {"note": {"from": None, "to": "seen by ed"}}
    assert entry.detail == {"internal": True}
    # the SLA armed on entering review is still the one pending, due when it was
    assert [(d.id, d.due_at) for d in nag.status(case_id).deadlines] == [
        (d.id, d.due_at) for d in before.deadlines
    ]
    assert len(_deadlines(nag, case_id)) == 1
    # a replay of the history agrees: the internal entry did not start a new visit
    assert nag.audit_verify() == (1, [])


def test_an_internal_transition_keeps_the_visits_approvals(nag: Any) -> None:
    case_id = _in_review(nag)
    assert nag.fire(case_id, "approve", actor="ed").outcome == "approval_recorded"
    nag.fire(case_id, "comment", actor="ann")
    status = nag.status(case_id, actor="ed")
    approve = next(e for e in status.events if e.event == "approve")
    assert not approve.allowed
    assert "already approved" in approve.reasons[0]
    assert nag.audit_verify() == (1, [])  # the open approval is still the replay's
    done = nag.fire(case_id, "approve", actor="eve")
    assert done.case.state == "done"
    assert nag.history(case_id)[-1].detail["approvals"] == ["ed", "eve"]


def test_status_and_dry_run_show_an_internal_transition(nag: Any) -> None:
    case_id = _in_review(nag)
    comment = next(e for e in nag.status(case_id, actor="ann").events if e.event == "comment")
    assert comment.allowed
    result = nag.fire(case_id, "comment", actor="ann", dry_run=True)
    assert result.outcome == "dry_run"
    assert result.would == {
        "to": "review",
        "actions": [
            {"set": {"note": "'seen by ' + actor.name"}},
            {"notify": {"channel": "chat", "to": "author", "message": ""}},  # rendered now
        ],
    }
    assert nag.get(case_id).data.get("note") is None


def test_an_sla_firing_an_internal_transition_fires_once(nag: Any, clock: Any) -> None:
    case_id = _in_review(nag)
    [(_, _, due)] = _deadlines(nag, case_id)
    clock.advance(days=2, minutes=1)
    assert nag.fire_due_deadlines().deadlines_fired == 1
    case = nag.get(case_id)
    assert (case.state, case.data["reminded"]) == ("review", 1)
    entry = nag.history(case_id)[-1]
    assert (entry.kind, entry.actor, entry.event) == ("timer", "system", "remind")
    assert entry.from_state == entry.to_state == "review"
    # marked fired, nothing new armed: the reminder does not re-enter the state
    assert [(e, s) for e, s, _ in _deadlines(nag, case_id)] == [("remind", "fired")]
    assert nag.status(case_id).deadlines == []
    clock.advance(days=5)
    assert nag.fire_due_deadlines().deadlines_fired == 0
    assert _messages(nag, case_id) == ["entered", "reminder 1"]
    assert due is not None


def test_an_internal_transition_from_any_state_keeps_the_case_open(nag: Any) -> None:
    case = nag.start("nag", {"title": "Plan"}, actor="ann")
    result = nag.fire(case.id, "comment", actor="ann")
    assert (result.case.state, result.case.closed) == ("draft", False)
