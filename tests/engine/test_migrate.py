"""Pinned versions and ``Engine.migrate`` (SPEC §2 "running cases keep their version", §3)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opsflow.errors import Invalid, MigrationRefused, NotFound, Usage
from opsflow.store import tables as t

V1 = """\
workflow: ticket
version: 1
title: Ticket
roles: [agent, lead]
fields:
  title: {type: string, required: true}
  note: {type: text}
  size: {type: integer, min: 0}
states:
  new: {initial: true}
  triage:
    sla: {within: 2d, fire: escalate}
  waiting: {}
  vote: {}
  done: {final: true}
transitions:
  - {event: take, from: new, to: triage, roles: [agent]}
  - {event: escalate, from: triage, to: triage}
  - {event: park, from: triage, to: waiting, roles: [agent]}
  - {event: resume, from: waiting, to: triage, roles: [agent]}
  - {event: vote, from: triage, to: vote, roles: [agent]}
  - {event: close, from: vote, to: done, approvals: {required: 2, roles: [lead]}}
  - {event: cancel, from: "*", to: done, roles: [lead]}
"""

# v2: 'waiting' becomes 'on_hold', the SLA shrinks to 1d, 'note' goes, 'priority' comes
# with a default and 'size' gets an upper bound.
V2 = """\
workflow: ticket
version: 2
title: Ticket
roles: [agent, lead]
fields:
  title: {type: string, required: true}
  size: {type: integer, min: 0, max: 10}
  priority: {type: enum, values: [low, normal, high], default: normal}
states:
  new: {initial: true}
  triage:
    sla: {within: 1d, fire: escalate}
  on_hold: {}
  vote: {}
  done: {final: true}
transitions:
  - {event: take, from: new, to: triage, roles: [agent]}
  - {event: escalate, from: triage, to: triage}
  - {event: park, from: triage, to: on_hold, roles: [agent]}
  - {event: resume, from: on_hold, to: triage, roles: [agent]}
  - {event: vote, from: triage, to: vote, roles: [agent]}
  - {event: close, from: vote, to: done, approvals: {required: 2, roles: [lead]}}
  - {event: cancel, from: "*", to: done, roles: [lead]}
"""

TEAM = {"ann": ["agent"], "lou": ["lead"], "lea": ["lead"], "boss": ["lead"], "tester": []}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A workflows folder holding ticket version 1."""
    target = tmp_path / "ticket_workflows"
    target.mkdir()
    (target / "ticket.yaml").write_text(V1, encoding="utf-8")
    return target


@pytest.fixture
def open_engine(make_engine: Any, folder: Path) -> Any:
    """Build an engine that reads the workflows folder as it is now (a new process, in effect)."""

    def build() -> Any:
        return make_engine(workflows=folder, team=TEAM)

    return build


def bump(folder: Path, text: str = V2) -> None:
    """Replace the workflow file (the author's edit)."""
    (folder / "ticket.yaml").write_text(text, encoding="utf-8")


def pending_deadlines(engine: Any, case_id: str) -> list[tuple[str, str, Any]]:
    with engine.db.read() as conn:
        rows = conn.execute(
            select(t.deadlines.c.state, t.deadlines.c.event, t.deadlines.c.due_at).where(
                t.deadlines.c.case_id == case_id, t.deadlines.c.status == "pending"
            )
        ).all()
    return [tuple(r) for r in rows]


def snapshot(engine: Any) -> dict[str, list[Any]]:
    """Every row of every table: to show that nothing was written."""
    with engine.db.read() as conn:
        return {
            name: sorted(tuple(str(v) for v in r) for r in conn.execute(select(table)))
            for name, table in [
                ("cases", t.cases),
                ("history", t.history),
                ("deadlines", t.deadlines),
                ("approvals", t.approvals),
                ("definitions", t.definitions),
            ]
        }


def test_running_cases_keep_their_version(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    old = v1.start("ticket", {"title": "Old"}, actor="ann")
    v1.fire(old.id, "take", actor="ann")
    bump(folder)
    v2 = open_engine()
    new = v2.start("ticket", {"title": "New"}, actor="ann")
    assert (v2.get(old.id).version, new.version) == (1, 2)
    assert v2.fire(old.id, "park", actor="ann").case.state == "waiting"  # v1's state name
    assert v2.fire(new.id, "take", actor="ann").case.state == "triage"
    assert v2.fire(new.id, "park", actor="ann").case.state == "on_hold"
    assert v2.get(old.id).version == 1


def test_migrate_moves_open_cases_with_one_migration_entry(
    open_engine: Any, folder: Path, clock: Any
) -> None:
    v1 = open_engine()
    parked = v1.start("ticket", {"title": "Parked", "note": "n"}, actor="ann")
    v1.fire(parked.id, "take", actor="ann")
    v1.fire(parked.id, "park", actor="ann")
    fresh = v1.start("ticket", {"title": "Fresh"}, actor="ann")
    closed = v1.start("ticket", {"title": "Closed"}, actor="ann")
    v1.fire(closed.id, "cancel", actor="lou")
    bump(folder)
    v2 = open_engine()
    clock.advance(hours=1)
    report = v2.migrate("ticket", 2, {"waiting": "on_hold"}, actor="boss")
    moved = {m.case: (m.from_version, m.from_state, m.to_state) for m in report.moved}
    assert moved == {parked.id: (1, "waiting", "on_hold"), fresh.id: (1, "new", "new")}
    assert report.refused == []
    assert report.warnings == [
        "field 'note' is not declared by the target version; kept in the data of 1 case(s)"
    ]
    assert not report.dry_run
    case = v2.get(parked.id)
    assert (case.version, case.state) == (2, "on_hold")
    assert case.data == {"title": "Parked", "note": "n", "priority": "normal"}
    assert case.entered_at == clock.now  # a new state: entered now
    entry = v2.history(parked.id)[-1]
    assert entry.kind == "migration"
    assert (entry.actor, entry.event, entry.from_state, entry.to_state) == (
        "boss",
        None,
        "waiting",
        "on_hold",
    )
    assert entry.detail == {"from_version": 1, "to_version": 2, "map": {"waiting": "on_hold"}}
    assert entry.data_changes == {"priority": {"from": None, "to": "normal"}}
    assert [e.kind for e in v2.history(closed.id)][-1] == "transition"
    assert v2.get(closed.id).version == 1  # closed cases stay as they ended
    assert v2.audit_verify() == (3, [])
    # the moved case now runs on version 2
    assert v2.fire(parked.id, "resume", actor="ann").case.state == "triage"
    assert v2.fire(fresh.id, "take", actor="ann").case.version == 2


def test_unmapped_state_is_refused_and_nothing_moves(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    parked = v1.start("ticket", {"title": "Parked"}, actor="ann")
    v1.fire(parked.id, "take", actor="ann")
    v1.fire(parked.id, "park", actor="ann")
    fine = v1.start("ticket", {"title": "Fine"}, actor="ann")
    bump(folder)
    v2 = open_engine()
    before = snapshot(v2)
    with pytest.raises(MigrationRefused) as info:
        v2.migrate("ticket", 2, actor="boss")
    report = info.value.report
    assert [(r.case, r.state) for r in report.refused] == [(parked.id, "waiting")]
    assert "add --map waiting=STATE" in report.refused[0].reason
    assert report.moved == []
    assert info.value.exit_code == 4
    assert parked.id in info.value.reasons[0]
    assert snapshot(v2) == before  # not even version 2 got registered
    assert v2.get(fine.id).version == 1


def test_dry_run_reports_and_writes_nothing(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    case = v1.start("ticket", {"title": "T"}, actor="ann")
    v1.fire(case.id, "take", actor="ann")
    bump(folder)
    v2 = open_engine()
    before = snapshot(v2)
    report = v2.migrate("ticket", 2, dry_run=True, actor="boss")
    assert report.dry_run
    assert [(m.case, m.to_state) for m in report.moved] == [(case.id, "triage")]
    assert snapshot(v2) == before


def test_deadlines_are_rearmed_from_the_target(open_engine: Any, folder: Path, clock: Any) -> None:
    v1 = open_engine()
    case = v1.start("ticket", {"title": "T"}, actor="ann")
    v1.fire(case.id, "take", actor="ann")
    entered = clock.now
    assert pending_deadlines(v1, case.id) == [("triage", "escalate", entered + timedelta(days=2))]
    bump(folder)
    v2 = open_engine()
    clock.advance(hours=3)
    v2.migrate("ticket", 2, actor="boss")
    # same state: the SLA still counts from when the case entered it, now with v2's 1d
    assert pending_deadlines(v2, case.id) == [("triage", "escalate", entered + timedelta(days=1))]
    with v2.db.read() as conn:
        notes = conn.execute(
            select(t.deadlines.c.status, t.deadlines.c.note).where(
                t.deadlines.c.case_id == case.id, t.deadlines.c.status != "pending"
            )
        ).all()
    assert [tuple(n) for n in notes] == [("cancelled", "migrated to version 2")]
    clock.advance(days=3)
    report = v2.fire_due_deadlines()
    assert report.deadlines_fired == 1  # only the re-armed deadline; the old one is gone
    assert [e.kind for e in v2.history(case.id)][-2:] == ["migration", "timer"]


def test_approvals_are_cleared(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    case = v1.start("ticket", {"title": "T"}, actor="ann")
    v1.fire(case.id, "take", actor="ann")
    v1.fire(case.id, "vote", actor="ann")
    assert v1.fire(case.id, "close", actor="lou").outcome == "approval_recorded"
    bump(folder)
    v2 = open_engine()
    v2.migrate("ticket", 2, actor="boss")
    with v2.db.read() as conn:
        assert conn.execute(select(t.approvals)).all() == []
    result = v2.fire(case.id, "close", actor="lea")
    assert (result.outcome, result.approvals) == ("approval_recorded", (1, 2))


def test_data_invalid_in_the_target_is_refused(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    big = v1.start("ticket", {"title": "Big", "size": 50}, actor="ann")
    bump(folder)
    v2 = open_engine()
    with pytest.raises(MigrationRefused) as info:
        v2.migrate("ticket", 2, actor="boss")
    [refused] = info.value.report.refused
    assert refused.case == big.id
    assert "field 'size'" in refused.reason
    assert "version 2" in refused.reason


def test_required_field_missing_in_the_target_is_refused(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    case = v1.start("ticket", {"title": "T"}, actor="ann")
    bump(
        folder,
        V2.replace(
            "priority: {type: enum", "owner: {type: string, required: true}\n  p: {type: enum"
        ),
    )
    v2 = open_engine()
    with pytest.raises(MigrationRefused) as info:
        v2.migrate("ticket", 2, actor="boss")
    [refused] = info.value.report.refused
    assert refused.case == case.id
    assert "field 'owner' is required by version 2" in refused.reason


def test_unknown_workflow_version_and_map_target(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    v1.start("ticket", {"title": "T"}, actor="ann")
    with pytest.raises(NotFound, match="no workflow 'nope'"):
        v1.migrate("nope", 1)
    with pytest.raises(NotFound, match=r"has no version 7 \(registered: 1; .* is version 1\)"):
        v1.migrate("ticket", 7)
    bump(folder)
    v2 = open_engine()
    with pytest.raises(Usage, match="waiting=limbo"):
        v2.migrate("ticket", 2, {"waiting": "limbo"})


def test_changed_text_of_a_registered_version_is_refused(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    v1.start("ticket", {"title": "T"}, actor="ann")
    bump(folder)
    open_engine().migrate("ticket", 2)
    bump(folder, V2.replace("title: Ticket", "title: Tickets"))
    with pytest.raises(Invalid, match="already registered with different text"):
        open_engine().start("ticket", {"title": "T"})


def test_migrating_back_to_a_registered_version(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    case = v1.start("ticket", {"title": "T"}, actor="ann")
    v1.fire(case.id, "take", actor="ann")
    v1.fire(case.id, "park", actor="ann")
    bump(folder)
    v2 = open_engine()
    v2.migrate("ticket", 2, {"waiting": "on_hold"}, actor="boss")
    report = v2.migrate("ticket", 1, {"on_hold": "waiting"}, actor="boss")  # a rollback
    assert [(m.from_version, m.to_state) for m in report.moved] == [(2, "waiting")]
    assert v2.get(case.id).version == 1
    assert v2.migrate("ticket", 1).moved == []  # nothing left to move
    assert v2.audit_verify() == (1, [])


def test_map_to_a_final_state_closes_the_case(open_engine: Any, folder: Path) -> None:
    v1 = open_engine()
    case = v1.start("ticket", {"title": "T"}, actor="ann")
    v1.fire(case.id, "take", actor="ann")
    bump(folder)
    v2 = open_engine()
    report = v2.migrate("ticket", 2, {"triage": "done"}, actor="boss")
    assert [m.to_state for m in report.moved] == ["done"]
    moved = v2.get(case.id)
    assert moved.closed
    assert pending_deadlines(v2, case.id) == []


def test_a_case_mapped_into_another_state_takes_its_assignment(
    open_engine: Any, folder: Path
) -> None:
    v1 = open_engine()
    parked = v1.start("ticket", {"title": "parked"}, actor="ann")
    v1.fire(parked.id, "take", actor="ann")
    v1.fire(parked.id, "park", actor="ann")
    v1.assign(parked.id, "ann", actor="ann")
    assert v1.get(parked.id).assignee == "ann"
    # v2 folds 'waiting' into 'vote', whose leads are given the case by least_open
    bump(folder, V2.replace("  vote: {}\n", "  vote: {assign: {role: lead, policy: least_open}}\n"))
    v2 = open_engine()
    v2.migrate("ticket", 2, {"waiting": "vote"}, actor="boss")
    moved = v2.get(parked.id)
    assert (moved.state, moved.assignee) == ("vote", "boss")  # boss, lea, lou: none holds one
    entry = v2.history(parked.id)[-1]
    assert (entry.kind, entry.actor, entry.detail["from"], entry.detail["to"]) == (
        "assignment",
        "system",
        "ann",
        "boss",
    )
