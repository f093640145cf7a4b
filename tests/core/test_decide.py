"""The approvals vote is counted once, in the decision; fire and dry run both use it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from opsflow.core.compiled import CompiledWorkflow, compile_workflow
from opsflow.core.decide import Actor, ApprovalProgress, decide
from opsflow.core.preview import dry_run
from opsflow.core.step import Step, StepContext
from opsflow.core.working import WorkingCase
from opsflow.language.loader import load_workflow_text

VOTE = """\
workflow: vote
version: 1
roles: [editor]
states:
  review: {initial: true}
  done: {final: true}
transitions:
  - {event: approve, from: review, to: done, roles: [editor], approvals: {required: 2}}
  - {event: reject, from: review, to: done, roles: [editor]}
"""

NOW = datetime(2024, 1, 1, tzinfo=UTC)
ED = Actor("ed", frozenset({"editor"}))
EVE = Actor("eve", frozenset({"editor"}))


def _workflow() -> CompiledWorkflow:
    loaded, diagnostics = load_workflow_text(VOTE)
    assert loaded is not None, diagnostics
    return compile_workflow(loaded)


def _decide(wf: CompiledWorkflow, actor: Actor, approved: set[str]) -> ApprovalProgress | None:
    decision = decide(wf, "review", "approve", actor, {}, {}, {}, lambda event: set(approved), {})
    assert decision.transition is not None
    return decision.approval


def test_the_decision_counts_the_vote_with_this_actors_approval() -> None:
    wf = _workflow()
    first = _decide(wf, ED, set())
    assert first == ApprovalProgress(frozenset({"ed"}), 2)
    assert (first.have, first.need, first.complete) == (1, 2, False)
    last = _decide(wf, EVE, {"ed"})
    assert last is not None
    assert (last.have, last.need, last.complete) == (2, 2, True)
    assert last.voters == {"ed", "eve"}


def test_a_transition_without_approvals_has_no_vote() -> None:
    wf = _workflow()
    decision = decide(wf, "review", "reject", ED, {}, {}, {}, lambda event: set(), {})
    assert decision.transition is not None
    assert decision.approval is None


def _step(wf: CompiledWorkflow, stored: set[str]) -> Step:
    ctx = StepContext(
        now=NOW,
        team={"ed": ["editor"], "eve": ["editor"]},
        functions={},
        approvals_of=lambda case, visit, event: set(stored),
        plugins=None,
        sources={},
        base_dir=Path("."),
    )
    case = WorkingCase(
        id="case-1", workflow="vote", version=1, state="review", data={}, metrics={},
        actors={}, rules={}, created_by="ed", created_at=NOW, updated_at=NOW,
        entered_at=NOW, visit=1, closed=False, row_version=1, seq=1, last_hash="",
    )  # fmt: skip
    return Step(wf, case, ctx)


def test_fire_and_dry_run_report_the_same_vote() -> None:
    wf = _workflow()
    probe = _step(wf, set())
    view = probe.case.view()
    shown = dry_run(probe, "approve", probe.actor("ed"), {}, view)
    assert shown.would == {"to": "review", "actions": [], "approvals": {"have": 1, "need": 2}}
    first = _step(wf, set())
    outcome = first.fire("approve", first.actor("ed"))
    assert (outcome.outcome, outcome.approvals) == ("approval_recorded", (1, 2))
    assert first.case.state == "review"
    assert first.writes.history[-1]["detail"] == {"approvals": {"have": 1, "need": 2}}

    probe = _step(wf, {"ed"})
    shown = dry_run(probe, "approve", probe.actor("eve"), {}, view)
    assert shown.would == {"to": "done", "actions": [], "approvals": {"have": 2, "need": 2}}
    last = _step(wf, {"ed"})
    outcome = last.fire("approve", last.actor("eve"))
    assert (outcome.outcome, outcome.approvals) == ("transitioned", (2, 2))
    assert last.case.state == "done"
    assert last.writes.history[-1]["detail"] == {"approvals": ["ed", "eve"]}
