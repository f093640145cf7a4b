"""Automatic assignment on entering a state: round_robin, least_open, a field's person; the
assignee cleared on leaving, in one entry; notifications to the assignee."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opsflow.store import tables
from project_cli import engine_workflows

EDITORS = ["both", "ed", "eve"]  # the fixtures' team holders of editor, sorted


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    return engine_workflows(tmp_path, "review", "desk", "intake")


def submitted(engine: Any, title: str = "t", **data: Any) -> Any:
    case = engine.start("desk", {"title": title, **data}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return engine.get(case.id)


def assignments(engine: Any, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.actor, e.detail) for e in engine.history(case_id) if e.kind == "assignment"]


def test_round_robin_gives_each_case_to_the_next_holder_with_its_own_entry(engine: Any) -> None:
    cases = [submitted(engine, f"post {n}") for n in range(4)]
    assert [c.assignee for c in cases] == [*EDITORS, "both"]
    moved, assigned = engine.history(cases[0].id)[-2:]
    assert (moved.kind, moved.event) == ("transition", "submit")
    assert (assigned.kind, assigned.actor, assigned.from_state, assigned.to_state) == (
        "assignment",
        "system",
        "editing",
        "editing",
    )
    assert assigned.detail == {
        "from": None,
        "to": "both",
        "left": "draft",
        "role": "editor",
        "policy": "round_robin",
    }
    assert assigned.seq == moved.seq + 1
    assert cases[0].row_version == 2  # the start, then one step: the fire and its assignment
    with engine.db.read() as conn:
        turn = conn.execute(select(tables.assign_turns)).one()
    assert (turn.workflow, turn.state, turn.last_assignee, turn.turns) == (
        "desk",
        "editing",
        "both",
        4,
    )
    assert engine.audit_verify() == (4, [])


def test_a_start_into_an_assigning_state_is_assigned(engine: Any) -> None:
    first = engine.start("intake", {"title": "a"}, actor="ed")
    second = engine.start("intake", {"title": "b"}, actor="ed")
    assert (first.assignee, second.assignee) == ("both", "ed")
    start, assigned = engine.history(first.id)
    assert start.kind == "start"
    assert (assigned.kind, assigned.detail) == (
        "assignment",
        {"from": None, "to": "both", "role": "editor", "policy": "round_robin"},
    )


def test_round_robin_follows_the_last_assignee_when_the_team_changes(make_engine: Any) -> None:
    team = {"ann": ["author"], "cy": ["editor"], "di": ["editor"]}
    engine = make_engine(team=team)
    assert submitted(engine).assignee == "cy"
    grown = make_engine(team={**team, "bo": ["editor"], "ed": ["editor"]})
    assert [submitted(grown).assignee for _ in range(3)] == ["di", "ed", "bo"]


def test_leaving_for_an_assigning_state_writes_one_entry(engine: Any) -> None:
    case = submitted(engine)  # both
    engine.fire(case.id, "check", actor="both")  # editing -> legal: least_open among legal
    assert engine.get(case.id).assignee == "lou"
    history = engine.history(case.id)
    assert [e.kind for e in history[-2:]] == ["transition", "assignment"]
    assert history[-1].detail == {
        "from": "both",
        "to": "lou",
        "left": "editing",
        "role": "legal",
        "policy": "least_open",
    }
    assert len(assignments(engine, case.id)) == 2  # on entering editing, then legal


def test_re_entering_takes_the_next_turn_and_an_internal_transition_keeps_it(
    engine: Any,
) -> None:
    case = submitted(engine)  # both
    engine.fire(case.id, "remind", actor="ed")  # internal: stays in the visit
    assert engine.get(case.id).assignee == "both"
    assert len(assignments(engine, case.id)) == 1
    engine.fire(case.id, "redo", actor="ed")  # editing -> editing: leaves and re-enters
    assert engine.get(case.id).assignee == "ed"
    assert assignments(engine, case.id)[-1][1] == {
        "from": "both",
        "to": "ed",
        "left": "editing",
        "role": "editor",
        "policy": "round_robin",
    }


def test_leaving_for_a_state_that_does_not_assign_clears_the_assignee(engine: Any) -> None:
    case = submitted(engine)
    engine.fire(case.id, "park", actor="both")
    assert engine.get(case.id).assignee is None
    assert assignments(engine, case.id)[-1] == (
        "system",
        {"from": "both", "to": None, "left": "editing"},
    )


def test_least_open_picks_the_holder_with_fewest_open_cases_of_any_workflow(
    make_engine: Any,
) -> None:
    team = {"ann": ["author"], "ed": ["editor"], "lea": ["legal"], "lou": ["legal"]}
    engine = make_engine(team=team)
    engine.settings.admins = ["ed"]
    # lea holds two open cases (another workflow), lou one open and one closed
    for holder in ("lea", "lea", "lou"):
        other = engine.start("review", {"title": "x"}, actor="ann")
        engine.assign(other.id, holder, actor="ed")
    closed = submitted(engine)
    engine.fire(closed.id, "check", actor="ed")  # a tie at (lea 2, lou 1)? no: lou has fewer
    assert engine.get(closed.id).assignee == "lou"
    engine.fire(closed.id, "finish", actor="lou")  # closed: counts for no one any more
    case = submitted(engine)
    engine.fire(case.id, "check", actor="ed")
    assert engine.get(case.id).assignee == "lou"  # lea 2, lou 1
    third = submitted(engine)
    engine.fire(third.id, "check", actor="ed")
    assert engine.get(third.id).assignee == "lea"  # a tie at 2: by name


def test_least_open_counts_with_the_assignee_index(engine: Any) -> None:
    from opsflow.engine.autoassign import open_counts

    with engine.db.read() as conn:
        compiled = str(
            open_counts(["lea", "lou"], "0" * 32).compile(
                conn, compile_kwargs={"literal_binds": True}
            )
        )
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled)
            plan = " ".join(str(r[-1]) for r in rows)
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + compiled))
    assert "ix_cases_assignee" in plan, plan


@pytest.mark.parametrize(
    ("reviewer", "expected", "reason"),
    [
        ("eve", "eve", None),
        (None, None, "field 'reviewer' is empty"),
        ("zed", None, "'zed' is not in the team"),
    ],
)
def test_a_field_names_the_assignee(
    engine: Any, reviewer: str | None, expected: str | None, reason: str | None
) -> None:
    case = submitted(engine, reviewer=reviewer)
    engine.fire(case.id, "review", actor="both")
    assert engine.get(case.id).assignee == expected
    actor, detail = assignments(engine, case.id)[-1]
    wanted: dict[str, Any] = {"from": "both", "to": expected, "left": "editing"}
    wanted["field"] = "reviewer"
    if reason is not None:
        wanted["reason"] = reason
    assert (actor, detail) == ("system", wanted)


def test_a_field_naming_the_holder_again_writes_nothing(engine: Any) -> None:
    case = submitted(engine, reviewer="both")  # editing: both (round robin), review: both
    engine.fire(case.id, "review", actor="ed")
    assert engine.get(case.id).assignee == "both"
    assert len(assignments(engine, case.id)) == 1


def test_notify_to_assignee_reaches_the_assignee(engine: Any) -> None:
    case = submitted(engine, "双十一")
    [row] = engine.outbox(case_id=case.id)
    assert (row.to, row.message) == ("both", "「双十一」 is yours")  # assigned before on_enter
    engine.fire(case.id, "remind", actor="ed")
    assert [o.to for o in engine.outbox(case_id=case.id)] == ["both", "both"]


def test_notify_to_assignee_with_nobody_assigned_is_skipped_with_a_note(
    engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    case = submitted(engine)
    before = len(engine.outbox(case_id=case.id))
    with caplog.at_level(logging.INFO, logger="opsflow.notify"):
        result = engine.fire(case.id, "park", actor="both")  # parked: nobody; notify assignee
    assert result.case.state == "parked"
    assert len(engine.outbox(case_id=case.id)) == before
    assert f"case {case.id}: notify on channel 'chat' skipped" in caplog.text
    assert "assigned to nobody" in caplog.text


def test_concurrent_starts_take_fair_turns(make_engine: Any) -> None:
    """Starts racing on several engines (hosts) share the editors within one of each other;
    the first turns race to create the (workflow, state)'s row: the loser tries again."""
    engines = [make_engine() for _ in range(4)]
    race_starts(engines, "intake", 6)
    with engines[0].db.read() as conn:
        turn = conn.execute(select(tables.assign_turns)).one()
    assert turn.turns == 4 * 6


def race_starts(engines: list[Any], workflow: str, per_engine: int) -> None:
    """Each engine (a host) starts ``per_engine`` cases at once with the others; the
    editors' shares of them must be within one of each other."""
    errors: list[BaseException] = []
    got: list[str] = []
    barrier = threading.Barrier(len(engines))

    def run(index: int) -> None:
        barrier.wait()
        try:
            for n in range(per_engine):
                case = engines[index].start(workflow, {"title": f"{index}-{n}"}, actor="ed")
                got.append(case.assignee)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    shares = Counter(got)
    assert sum(shares.values()) == len(engines) * per_engine
    assert set(shares) == set(EDITORS)
    assert max(shares.values()) - min(shares.values()) <= 1, shares


PIECE = """\
workflow: piece
version: 1
roles: [author, editor]
fields:
  title: {type: string}
states:
  draft: {initial: true}
  review:
    assign: {role: POLICY_ROLE, policy: POLICY}
  done: {final: true}
transitions:
  - {event: submit, from: draft, to: review, roles: [author, editor]}
  - {event: approve, from: review, to: done, roles: [editor], not_by: [submit]}
  - {event: send_back, from: review, to: draft, roles: [editor]}
"""


@pytest.mark.parametrize("policy", ["round_robin", "least_open"])
def test_four_eyes_keeps_an_author_from_being_given_her_own_piece(
    make_engine: Any, tmp_path: Path, policy: str
) -> None:
    folder = tmp_path / "piece_workflows"
    folder.mkdir()
    text = PIECE.replace("POLICY_ROLE", "editor").replace("POLICY", policy)
    (folder / "piece.yaml").write_text(text, encoding="utf-8")
    engine = make_engine(workflows=folder)
    given = []
    for author in ("both", "both", "ed"):  # "both" writes and edits; ed and eve edit
        case = engine.start("piece", {"title": "t"}, actor=author)
        engine.fire(case.id, "submit", actor=author)
        found = engine.get(case.id)
        assert found.assignee != author
        given.append(found.assignee)
        (entry,) = [e for e in engine.history(case.id) if e.kind == "assignment"]
        assert entry.detail["skipped"] == [author]
    if policy == "round_robin":
        assert given == ["ed", "eve", "both"]  # after a skip the turn goes on from the one chosen


def test_a_delegate_covering_the_author_is_skipped_too(
    make_engine: Any, tmp_path: Path, clock: Any
) -> None:
    from datetime import timedelta

    from opsflow.people import Delegation, Person

    folder = tmp_path / "piece_workflows"
    folder.mkdir()
    text = PIECE.replace("POLICY_ROLE", "editor").replace("POLICY", "round_robin")
    (folder / "piece.yaml").write_text(text, encoding="utf-8")
    engine = make_engine(workflows=folder)
    today = clock.now.date()
    away = Delegation(to="both", start=today, until=today + timedelta(days=3))
    engine.settings.people = {"ann": Person(delegate=away)}  # "both" covers ann
    case = engine.start("piece", {"title": "t"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    assert engine.get(case.id).assignee == "ed"  # not "both": four-eyes stops ann's cover
    (entry,) = [e for e in engine.history(case.id) if e.kind == "assignment"]
    assert entry.detail["skipped"] == ["both"]


def test_concurrent_starts_into_least_open_are_spread(make_engine: Any, tmp_path: Path) -> None:
    """Racing starts decide one after another (under the state's turn row), each seeing the
    cases the others gave out: a burst does not all go to whoever had fewest before it."""
    folder = tmp_path / "queue_workflows"
    folder.mkdir()
    (folder / "queue.yaml").write_text(
        "workflow: queue\nversion: 1\nroles: [editor]\nfields: {title: {type: string}}\n"
        "states:\n  waiting: {initial: true, assign: {role: editor, policy: least_open}}\n"
        "  done: {final: true}\n"
        "transitions:\n  - {event: finish, from: waiting, to: done, roles: [editor]}\n",
        encoding="utf-8",
    )
    race_starts([make_engine(workflows=folder) for _ in range(4)], "queue", 6)
