"""Work assignment in the engine: assign, unassign and claim as audited steps, their rules,
the assignee cleared when the case leaves its state, and ``assignee`` in expressions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsflow.errors import Conflict, Invalid, NotFound, NotPermitted, PreconditionFailed, Refused


@pytest.fixture
def engine(make_engine: Any) -> Any:
    found = make_engine()
    found.settings.admins = ["dir"]
    return found


def trail(engine: Any, case_id: str) -> list[dict[str, Any]]:
    return [e.to_json() for e in engine.history(case_id)]


def submitted(engine: Any) -> Any:
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return engine.get(case.id)


def test_assign_writes_one_assignment_entry_and_bumps_the_version(engine: Any) -> None:
    case = submitted(engine)
    assigned = engine.assign(case.id, "eve", actor="ed")
    assert assigned.assignee == "eve"
    assert assigned.row_version == case.row_version + 1
    stored = engine.get(case.id)
    assert stored.assignee == "eve"
    assert stored.to_json()["assignee"] == "eve"
    entry = engine.history(case.id)[-1]
    assert (entry.kind, entry.actor, entry.from_state, entry.to_state) == (
        "assignment",
        "ed",
        "review",
        "review",
    )
    assert entry.detail == {"from": None, "to": "eve"}
    assert engine.audit_verify() == (1, [])  # the chain and the replay agree


def test_assigning_the_assignee_again_or_unassigning_nobody_writes_nothing(engine: Any) -> None:
    case = submitted(engine)
    engine.assign(case.id, "eve", actor="ed")
    before = trail(engine, case.id), engine.get(case.id).row_version
    assert engine.assign(case.id, "eve", actor="ed").assignee == "eve"
    assert (trail(engine, case.id), engine.get(case.id).row_version) == before
    engine.unassign(case.id, actor="eve")
    before = trail(engine, case.id), engine.get(case.id).row_version
    assert engine.unassign(case.id, actor="ed").assignee is None
    assert (trail(engine, case.id), engine.get(case.id).row_version) == before


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        ("ed", True),  # holds a role of the state's events (editor approves in review)
        ("dir", True),  # an admin (and a director may cancel)
        ("eve", True),  # the current assignee
        ("lou", False),  # legal acts only in 'legal'
        ("ann", False),  # the author acted before, but holds no role of 'review'
    ],
)
def test_who_may_change_the_assignee(engine: Any, actor: str, allowed: bool) -> None:
    case = submitted(engine)
    engine.assign(case.id, "eve", actor="ed")
    before = trail(engine, case.id)
    if allowed:
        assert engine.assign(case.id, "both", actor=actor).assignee == "both"
    else:
        with pytest.raises(NotPermitted, match="may not change who"):
            engine.assign(case.id, "both", actor=actor)
        with pytest.raises(NotPermitted):
            engine.unassign(case.id, actor=actor)
        assert trail(engine, case.id) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("stranger", "not in this project's team"),
        ("tester", "holds no role that acts in workflow 'review'"),
        ("system", "cannot be assigned"),
        ("", "cannot be assigned"),
        ("a\nb", "cannot be assigned"),
    ],
)
def test_who_may_be_assigned(engine: Any, name: str, message: str) -> None:
    case = submitted(engine)
    before = trail(engine, case.id)
    with pytest.raises(Invalid, match=message):
        engine.assign(case.id, name, actor="ed")
    assert trail(engine, case.id) == before


def test_any_holder_of_a_workflow_role_may_be_assigned(engine: Any) -> None:
    case = submitted(engine)
    assert engine.assign(case.id, "pat", actor="ed").assignee == "pat"  # publisher acts later


def test_a_stranger_cannot_assign(engine: Any) -> None:
    case = submitted(engine)
    with pytest.raises(NotPermitted, match="not in this project's team"):
        engine.assign(case.id, "ed", actor="stranger")


def test_claim_rules(engine: Any) -> None:
    case = submitted(engine)
    with pytest.raises(NotPermitted, match="may not change who"):
        engine.claim(case.id, actor="ann")  # nothing ann can do in 'review'
    assert engine.claim(case.id, actor="ed").assignee == "ed"
    before = trail(engine, case.id)
    assert engine.claim(case.id, actor="ed").assignee == "ed"  # already yours: nothing
    with pytest.raises(Conflict, match="assigned to 'ed'") as conflict:
        engine.claim(case.id, actor="eve")
    assert conflict.value.exit_code == 6
    with pytest.raises(NotPermitted, match="only an admin") as forced:
        engine.claim(case.id, actor="eve", force=True)
    assert forced.value.exit_code == 3
    assert trail(engine, case.id) == before
    taken = engine.claim(case.id, actor="dir", force=True)
    assert taken.assignee == "dir"
    assert engine.history(case.id)[-1].detail == {"from": "ed", "to": "dir", "forced": True}


def test_a_closed_case_cannot_be_assigned(engine: Any) -> None:
    case = submitted(engine)
    engine.fire(case.id, "cancel", actor="ed")
    with pytest.raises(Refused, match="closed"):
        engine.assign(case.id, "ed", actor="ed")
    with pytest.raises(Refused, match="closed"):
        engine.claim(case.id, actor="ed")


def test_a_stale_expected_version_changes_nothing(engine: Any) -> None:
    case = submitted(engine)
    before = trail(engine, case.id)
    for change in (
        lambda: engine.assign(case.id, "ed", actor="ed", expected_version=1),
        lambda: engine.unassign(case.id, actor="ed", expected_version=1),
        lambda: engine.claim(case.id, actor="ed", expected_version=1),
    ):
        with pytest.raises(PreconditionFailed):
            change()
    assert trail(engine, case.id) == before
    assert engine.claim(case.id, actor="ed", expected_version=case.row_version).assignee == "ed"


def test_leaving_the_state_clears_the_assignee_in_an_entry_of_its_own(
    engine: Any, clock: Any
) -> None:
    case = submitted(engine)
    engine.assign(case.id, "eve", actor="ed")
    clock.advance(days=3)
    engine.run_due()  # the SLA fires 'escalate': review -> review, leaving and re-entering it
    escalated, cleared = engine.history(case.id)[-2:]
    assert escalated.event == "escalate"
    assert "unassigned" not in escalated.detail
    assert (cleared.kind, cleared.actor, cleared.from_state, cleared.to_state) == (
        "assignment",
        "system",
        "review",
        "review",
    )
    assert cleared.detail == {"from": "eve", "to": None, "left": "review"}
    assert engine.get(case.id).assignee is None
    engine.assign(case.id, "eve", actor="ed")
    engine.fire(case.id, "approve", actor="eve")  # review -> scheduled
    assert engine.get(case.id).assignee is None
    moved, cleared = engine.history(case.id)[-2:]
    assert (moved.event, cleared.kind, cleared.to_state) == ("approve", "assignment", "scheduled")
    assert cleared.detail == {"from": "eve", "to": None, "left": "review"}
    assert engine.audit_verify() == (1, [])


def test_assignee_is_in_the_expressions_scope(make_engine: Any, tmp_path: Path) -> None:
    folder = tmp_path / "wf_assignee"
    folder.mkdir()
    (folder / "task.yaml").write_text(
        """
workflow: task
version: 1
roles: [worker]
fields:
  title: {type: string}
states:
  open: {initial: true}
  done: {final: true}
transitions:
  - {event: finish, from: open, to: done, roles: [worker], when: "assignee == actor.name"}
""",
        encoding="utf-8",
    )
    engine = make_engine(workflows=folder)
    engine.settings.team = {"wu": ["worker"], "li": ["worker"]}
    case = engine.start("task", {"title": "任务"}, actor="wu")
    with pytest.raises(Refused):
        engine.fire(case.id, "finish", actor="wu")  # nobody is assigned yet
    engine.claim(case.id, actor="li")
    with pytest.raises(Refused):
        engine.fire(case.id, "finish", actor="wu")
    assert engine.fire(case.id, "finish", actor="li").case.state == "done"


def test_a_case_the_actor_may_not_read_is_not_found(make_engine: Any, tmp_path: Path) -> None:
    folder = tmp_path / "wf_readers"
    folder.mkdir()
    (folder / "secret.yaml").write_text(
        """
workflow: secret
version: 1
roles: [worker, boss]
readers: [boss]
fields:
  title: {type: string}
states:
  open: {initial: true}
  done: {final: true}
transitions:
  - {event: finish, from: open, to: done, roles: [worker]}
""",
        encoding="utf-8",
    )
    engine = make_engine(workflows=folder)
    engine.settings.team = {"wu": ["worker"], "bo": ["boss", "worker"]}
    case = engine.start("secret", {"title": "机密"}, actor="bo")
    for attempt in (
        lambda: engine.claim(case.id, actor="wu"),
        lambda: engine.assign(case.id, "wu", actor="wu"),
        lambda: engine.unassign(case.id, actor="wu"),
    ):
        with pytest.raises(NotFound, match="no case"):
            attempt()
    assert [e.kind for e in engine.history(case.id, actor="bo")] == ["start"]
    assert engine.assign(case.id, "wu", actor="bo").assignee == "wu"
