"""Who may act: ``roles: [system]``, audited refusals, strangers refused (on both backends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsflow.errors import NotPermitted, Refused

GUARDED = """\
workflow: guarded
version: 1
roles: [author, editor]
fields:
  title: {type: string, required: true}
  ready: {type: boolean, default: false}
states:
  draft:
    initial: true
    sla: {within: 1d, fire: escalate}
  review: {}
  done: {final: true}
transitions:
  - {event: submit, from: draft, to: review, roles: [author], when: "ready"}
  - {event: escalate, from: draft, to: review, roles: [system]}
  - {event: close, from: review, to: done, roles: [editor]}
"""


@pytest.fixture
def engine(make_engine: Any, workflows_dir: Path) -> Any:
    (workflows_dir / "guarded.yaml").write_text(GUARDED, encoding="utf-8")
    return make_engine()


def _snapshot(engine: Any, case_id: str) -> tuple[Any, ...]:
    case = engine.get(case_id)
    return case.state, case.data, case.row_version, case.updated_at


def test_only_opsflow_fires_a_system_event(engine: Any, clock: Any) -> None:
    case = engine.start("guarded", {"title": "t"}, actor="ann")
    with pytest.raises(NotPermitted) as refused:
        engine.fire(case.id, "escalate", actor="ed")
    assert len(refused.value.reasons) == 1
    assert refused.value.reasons[0].endswith(
        "roles: only opsflow itself (a timer or an automatic step) may fire it"
    )
    status = {e.event: e for e in engine.status(case.id, actor="ed").events}
    assert status["escalate"].allowed is False
    assert "escalate" not in {e.event for c in engine.inbox(actor="ed") for e in c.events}
    clock.advance(days=2)
    assert engine.fire_due_deadlines().deadlines_fired == 1
    assert engine.get(case.id).state == "review"
    assert engine.history(case.id)[-1].actor == "system"


def test_the_reserved_name_system_is_refused_to_people(engine: Any) -> None:
    with pytest.raises(NotPermitted, match="'system' is reserved"):
        engine.start("guarded", {"title": "t"}, actor="system")
    case = engine.start("guarded", {"title": "t"}, actor="ann")
    with pytest.raises(NotPermitted, match="'system' is reserved"):
        engine.fire(case.id, "escalate", actor="system")
    assert engine.get(case.id).state == "draft"


def test_a_refused_fire_is_audited_and_changes_nothing(engine: Any) -> None:
    case = engine.start("guarded", {"title": "t"}, actor="ann")
    before = _snapshot(engine, case.id)
    with pytest.raises(Refused):
        engine.fire(case.id, "submit", actor="ann")  # when: ready is false
    with pytest.raises(NotPermitted):
        engine.fire(case.id, "submit", actor="ed")  # not an author
    assert _snapshot(engine, case.id) == before  # state, data, ETag, updated_at
    denied = [e for e in engine.history(case.id) if e.kind == "denied"]
    assert [(e.actor, e.event, e.from_state, e.to_state) for e in denied] == [
        ("ann", "submit", "draft", "draft"),
        ("ed", "submit", "draft", "draft"),
    ]
    assert "refused" in denied[0].detail["reason"]
    assert any("'ready' is false" in r for r in denied[0].detail["reasons"])
    assert any("needs one of author" in r for r in denied[1].detail["reasons"])
    assert engine.audit_verify()[1] == []
    # the refused attempts do not count as having fired the event (four-eyes)
    assert engine.fire(case.id, "submit", actor="ann", data={"ready": True}).case.state == (
        "review"
    )


def test_a_dry_run_refusal_is_not_recorded(engine: Any) -> None:
    case = engine.start("guarded", {"title": "t"}, actor="ann")
    with pytest.raises(NotPermitted):
        engine.fire(case.id, "submit", actor="ed", dry_run=True)
    assert [e.kind for e in engine.history(case.id)] == ["start"]


def test_a_stranger_is_refused_by_every_command_that_changes_a_case(engine: Any) -> None:
    case = engine.start("guarded", {"title": "t"}, actor="ann")
    before = _snapshot(engine, case.id)
    attempts = [
        lambda: engine.start("guarded", {"title": "t"}, actor="zed"),
        lambda: engine.fire(case.id, "submit", actor="zed"),
        lambda: engine.set(case.id, {"ready": True}, actor="zed"),
        lambda: engine.compute(case.id, [], actor="zed"),
    ]
    for attempt in attempts:
        with pytest.raises(NotPermitted, match="'zed' is not in this project's team"):
            attempt()
    assert _snapshot(engine, case.id) == before
    assert len(engine.cases(workflow="guarded")) == 1
    # reading is not changing: a stranger may still look
    assert engine.status(case.id, actor="zed").state == "draft"


def test_without_a_team_anyone_may_act(make_engine: Any, workflows_dir: Path) -> None:
    (workflows_dir / "guarded.yaml").write_text(GUARDED, encoding="utf-8")
    engine = make_engine(team={})
    case = engine.start("guarded", {"title": "t"}, actor="zed")
    assert engine.set(case.id, {"ready": True}, actor="zed").data["ready"] is True
