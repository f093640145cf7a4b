"""The compiled ``transitions`` Machine executes every transition a case takes (issue 13).

``decide`` chooses; the machine moves. These tests record every ``Transition.execute``
of the ``transitions`` package: a step that moved a case without its machine, or a fire,
an automatic transition or a timer that bypassed it, fails them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from transitions import EventData, Transition

from opsflow.core.compiled import CompiledWorkflow, compile_workflow
from opsflow.core.decide import SYSTEM
from opsflow.core.machine import CaseMachine, Move
from opsflow.core.step import Step, StepContext
from opsflow.core.working import WorkingCase
from opsflow.language.loader import load_workflow_text

# Every action appends to ``trail``: ``<s`` leaving s, ``>s`` entering s, ``!e`` the
# ``do`` of event e. Two candidates share (a, go): the guard refuses the first.
MOVES = """\
workflow: moves
version: 1
roles: [clerk]
fields:
  trail: {type: string, default: ""}
  ready: {type: boolean, default: false}
  n: {type: integer, default: 0}
states:
  a:
    initial: true
    on_enter: [{set: {trail: "trail + ' >a'"}}]
    on_exit: [{set: {trail: "trail + ' <a'"}}]
  b:
    timer: {after: 1h, fire: tick}
    on_enter: [{set: {trail: "trail + ' >b'"}}]
    on_exit: [{set: {trail: "trail + ' <b'"}}]
  c:
    on_enter: [{set: {trail: "trail + ' >c'"}}]
    on_exit: [{set: {trail: "trail + ' <c'"}}]
  done:
    final: true
    on_enter: [{set: {trail: "trail + ' >done'"}}]
transitions:
  - {event: go, from: a, to: b, when: "n > 5", do: [{set: {trail: "trail + ' !go-b'"}}]}
  - {event: go, from: a, to: c, do: [{set: {trail: "trail + ' !go-c'"}}]}
  - {event: again, from: c, to: c, do: [{set: {trail: "trail + ' !again'"}}]}
  - {event: note, from: "*", do: [{set: {trail: "trail + ' !note'"}}]}
  - {event: wake, from: c, to: b, auto: true, when: ready, do: [{set: {trail: "trail + ' !wake'"}}]}
  - {event: tick, from: b, to: done, roles: [system], do: [{set: {trail: "trail + ' !tick'"}}]}
"""

NOW = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Executed:
    """One ``Transition.execute`` seen: the event, the states before and after, the trail."""

    event: str
    source: str
    dest: str | None
    before: str
    after: str
    trail: str  # the case's trail when the machine returned


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[Executed]:
    """Every ``transitions.Transition.execute`` call, recorded as it returns."""
    seen: list[Executed] = []
    original = Transition.execute

    def recording(self: Transition, event_data: EventData) -> bool:
        model: Any = event_data.model  # the step: its case's state is what moves
        before = model.case.state
        result = original(self, event_data)
        entry = event_data.kwargs["entry"]
        trail = entry["data_changes"].get("trail", {}).get("to", "")
        event = self.compiled.event if isinstance(self, Move) else "?"
        seen.append(Executed(event, self.source, self.dest, before, model.case.state, trail))
        return result

    monkeypatch.setattr(Transition, "execute", recording)
    return seen


def _workflow() -> CompiledWorkflow:
    loaded, diagnostics = load_workflow_text(MOVES)
    assert loaded is not None, diagnostics
    return compile_workflow(loaded)


def _step(wf: CompiledWorkflow, case: WorkingCase | None = None) -> Step:
    approvals: dict[tuple[str, int, str], set[str]] = {}
    ctx = StepContext(
        now=NOW,
        team={"ann": ["clerk"]},
        functions={},
        approvals_of=lambda case, visit, event: set(approvals.get((case, visit, event), ())),
        plugins=None,
        sources={},
        base_dir=Path("."),
    )
    return Step(wf, case or _new_case(wf), ctx)


def _new_case(wf: CompiledWorkflow) -> WorkingCase:
    return WorkingCase(
        id="case-1",
        workflow=wf.id,
        version=wf.version,
        state=wf.initial,
        data={},
        metrics={},
        actors={},
        rules={},
        created_by="ann",
        created_at=NOW,
        updated_at=NOW,
        entered_at=NOW,
        visit=1,
        closed=False,
        row_version=0,
        seq=0,
        last_hash="",
    )


def test_one_machine_per_version_with_one_move_per_transition_and_source() -> None:
    wf = _workflow()
    assert isinstance(wf.machine, CaseMachine)
    assert wf.machine.models == []  # no case is ever added to the shared machine
    moves = {(m.compiled.event, m.source, m.dest) for m in wf.machine.moves.values()}
    assert ("go", "a", "b") in moves
    assert ("go", "a", "c") in moves
    assert ("again", "c", "c") in moves  # reflexive: transitions re-enters it
    assert {("note", s, None) for s in ("a", "b", "c")} <= moves  # internal: dest=None
    assert ("wake", "c", "b") in moves  # automatic transitions are the machine's too
    assert wf.triggers("c") == ["again", "note"]  # what a person can fire


def test_every_fire_auto_transition_and_timer_goes_through_the_machine(
    executed: list[Executed],
) -> None:
    wf = _workflow()
    step = _step(wf)
    ann = step.actor("ann")
    step.start({}, ann)
    assert step.case.data["trail"] == " >a"  # the initial state's enter callbacks
    assert executed == []  # entering the initial state is no transition

    step.fire("go", ann)  # the first candidate's guard fails: decide chose the second
    step.fire("again", ann)
    visit = step.case.visit
    step.fire("note", ann)
    assert step.case.visit == visit  # internal: the visit is kept
    step.fire("note", ann, {"ready": True})  # internal, then the automatic `wake`
    step.fire("tick", step.actor(SYSTEM), kind="timer")

    assert [(e.event, e.source, e.dest, e.before, e.after) for e in executed] == [
        ("go", "a", "c", "a", "c"),
        ("again", "c", "c", "c", "c"),
        ("note", "c", None, "c", "c"),
        ("note", "c", None, "c", "c"),
        ("wake", "c", "b", "c", "b"),
        ("tick", "b", "done", "b", "done"),
    ]
    # Each transition's actions ran inside its execute, in the order exit → do → enter.
    assert [e.trail for e in executed] == [
        " >a <a !go-c >c",
        " >a <a !go-c >c <c !again >c",
        " >a <a !go-c >c <c !again >c !note",
        " >a <a !go-c >c <c !again >c !note !note",
        " >a <a !go-c >c <c !again >c !note !note <c !wake >b",
        " >a <a !go-c >c <c !again >c !note !note <c !wake >b <b !tick >done",
    ]
    assert step.case.closed
    assert step.case.visit == 5  # a, c, c again, b, done: the internal ones made none
    assert step.writes.left == {"a", "b", "c"}
    assert [(t.event, entry["kind"]) for t, _, entry in step.transitions_taken] == [
        ("go", "transition"),
        ("again", "transition"),
        ("note", "transition"),
        ("note", "transition"),
        ("wake", "transition"),
        ("tick", "timer"),
    ]
    internal = [e["detail"] for e in step.writes.history if e["event"] == "note"]
    assert internal == [{"internal": True}, {"internal": True}]


def test_the_step_does_not_move_the_case_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the machine's execute disabled, nothing moves: the step holds no copy of it."""
    wf = _workflow()
    step = _step(wf)
    ann = step.actor("ann")
    step.start({}, ann)
    monkeypatch.setattr(Transition, "execute", lambda self, event_data: True)
    step.fire("go", ann)
    step.fire("note", ann)
    case = step.case
    assert (case.state, case.visit, case.data["trail"]) == ("a", 1, " >a")
    assert step.writes.left == set()
    assert [t.event for t, _, _ in step.transitions_taken] == ["go", "note"]  # decided, written


def test_a_failed_automatic_transition_is_undone_with_the_machines_move() -> None:
    """The step's savepoint covers what the machine changed: the case is back in ``c``."""
    text = MOVES.replace("do: [{set: {trail: \"trail + ' !wake'\"}}]", 'do: [{set: {n: "1 / n"}}]')
    loaded, diagnostics = load_workflow_text(text)
    assert loaded is not None, diagnostics
    wf = compile_workflow(loaded)
    step = _step(wf)
    ann = step.actor("ann")
    step.start({}, ann)
    step.fire("go", ann)
    step.fire("note", ann, {"ready": True})
    case = step.case
    assert (case.state, case.visit, case.data["trail"]) == ("c", 2, " >a <a !go-c >c !note")
    assert "auto:wake" in step.failed
    assert step.writes.left == {"a"}
    assert [t.event for t, _, _ in step.transitions_taken] == ["go", "note"]


def test_the_engine_fires_timers_and_automatic_steps_through_the_machine(
    executed: list[Executed], make_engine: Any, workflows_dir: Path, clock: Any
) -> None:
    (workflows_dir / "moves.yaml").write_text(MOVES, encoding="utf-8")
    engine = make_engine()
    case = engine.start("moves", actor="ann")
    engine.fire(case.id, "go", actor="ann")
    engine.fire(case.id, "note", actor="ann", data={"ready": True})
    clock.advance(hours=2)
    assert engine.fire_due_deadlines().deadlines_fired == 1
    assert [(e.event, e.before, e.after) for e in executed] == [
        ("go", "a", "c"),
        ("note", "c", "c"),
        ("wake", "c", "b"),
        ("tick", "b", "done"),
    ]
    done = engine.get(case.id)
    assert done.state == "done"
    assert done.data["trail"] == executed[-1].trail


def test_the_start_enters_the_initial_state_through_the_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A case's first entry runs as the machine's state entry: without it, no enter actions."""
    from opsflow.core.machine import Stage

    entered: list[str] = []
    original = Stage.enter

    def recording(self: Stage, event_data: EventData) -> None:
        entered.append(self.name)
        original(self, event_data)

    monkeypatch.setattr(Stage, "enter", recording)
    step = _step(_workflow())
    step.start({}, step.actor("ann"))
    assert (entered, step.case.data["trail"]) == (["a"], " >a")

    monkeypatch.setattr(Stage, "enter", lambda self, event_data: None)
    silent = _step(_workflow())
    silent.start({}, silent.actor("ann"))
    assert silent.case.data["trail"] == ""  # the step runs no enter action itself
