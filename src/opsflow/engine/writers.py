"""What a person's start, fire, set and compute do inside one unit of work.

Each function takes the :class:`CaseTransaction` of one attempt; the engine runs it with
its retries (``CaseEngine.transact``). Nothing here commits, retries or calls hooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsflow.core import preview
from opsflow.core import text as typed_text
from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.results import Case, FireResult, Notice
from opsflow.core.step import Step
from opsflow.engine import idempotency
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import NotFound, NotPermitted, Refused


@dataclass(slots=True)
class FireRequest:
    """One person's fire, as asked: what a key's repeat must match."""

    case_id: str
    event: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    key: str | None = None
    text: dict[str, str] | None = None

    def keyed(self, full_id: str) -> dict[str, Any]:
        """What a key remembers (only a keyed fire needs it)."""
        if self.key is None:
            return {}
        request = {
            "case": full_id,
            "event": self.event,
            "data": self.data,
            "comment": self.comment,
            "actor": self.actor,
        }
        if self.text:
            request["text"] = self.text
        return request


@dataclass(frozen=True)
class Denied:
    """A fire the decision refused: its ``denied`` entry is committed, then it is raised."""

    refusal: NotPermitted | Refused


def start_case(
    tx: CaseTransaction,
    wf: CompiledWorkflow,
    actor: str,
    data: Mapping[str, Any] | None,
    text: Mapping[str, str] | None,
    key: str | None,
) -> Case:
    """Start a case of ``wf`` (or replay the first start of ``key``)."""
    request: dict[str, Any] = {"workflow": wf.id, "data": dict(data or {}), "actor": actor}
    if text:
        request["text"] = dict(text)
    replay = idempotency.first_result(tx.conn, key, "start", request)
    if replay is not None:
        return tx.load(replay[0]).view()
    values = typed_text.merged(data, wf.id, wf.fields, text)
    step = tx.start(wf, dict(values or {}), actor)
    idempotency.remember(
        tx.conn, key, "start", request, step.case.id, {"outcome": "started"}, tx.now
    )
    return tx.view(step, actor)


def fire_event(tx: CaseTransaction, request: FireRequest) -> FireResult | Denied:
    """Fire an event on a case; a refusal is audited as ``denied`` and returned, not raised."""
    # Opened (the row locked) before the key is looked up: a fire with the same key that
    # held the lock before us has committed its key by now.
    step = tx.open(request.case_id)
    case = step.case
    full_id = case.id
    keyed = request.keyed(full_id) if request.key is not None else {}
    replay = idempotency.first_result(tx.conn, request.key, "fire", keyed)
    if replay is not None:
        approvals = replay[1].get("approvals")
        return FireResult(
            case=case.view(),
            outcome="replayed",
            approvals=tuple(approvals) if approvals else None,
        )
    text = request.text
    values = (
        typed_text.merged(request.data, step.wf.id, step.wf.fields, text) if text else request.data
    )
    source = case.state
    try:
        outcome = step.fire(request.event, step.actor(request.actor), values, request.comment)
    except (NotPermitted, Refused) as refusal:  # the decision said no: audit it
        return _deny(tx, full_id, request, refusal, source)
    tx.flush(step)
    recorded = outcome.outcome == "approval_recorded"
    response: dict[str, Any] = {"outcome": outcome.outcome}
    if recorded:
        response["approvals"] = list(outcome.approvals or ())
    idempotency.remember(tx.conn, request.key, "fire", keyed, full_id, response, tx.now)
    return FireResult.of_fire(
        tx.view(step, request.actor),
        outcome.outcome,
        outcome.approvals if recorded else None,
        source,
        _notices(step) if step.writes.outbox else [],
    )


def _deny(
    tx: CaseTransaction,
    case_id: str,
    request: FireRequest,
    refusal: NotPermitted | Refused,
    state: str,
) -> Denied:
    """Write the ``denied`` entry of a refused fire on a fresh copy of the case.

    Only the history grows: the case's state, data, row version and ``updated_at`` stay.
    """
    tx.note(
        case_id, lambda fresh: fresh.record_denial(request.actor, request.event, refusal, state)
    )
    return Denied(refusal)


def preview_fire(tx: CaseTransaction, request: FireRequest) -> FireResult:
    """What a fire would do, decided exactly as the fire decides it; nothing is written."""
    step = tx.open(request.case_id)
    values = typed_text.merged(request.data, step.wf.id, step.wf.fields, request.text)
    view = tx.view(step, request.actor)
    probe = Step(step.wf, step.case.fork(), step.ctx)  # the view's step stays unchanged
    return preview.dry_run(probe, request.event, probe.actor(request.actor), values or {}, view)


def set_data(
    tx: CaseTransaction,
    case_id: str,
    actor: str,
    data: Mapping[str, Any] | None,
    text: Mapping[str, str] | None,
    comment: str | None,
) -> Case:
    """Change a case's data as ``actor`` (a ``data`` entry); rules and auto transitions run."""
    step = tx.open(case_id)
    values = typed_text.merged(data, step.wf.id, step.wf.fields, text)  # bad text: 65 first
    step.change_data(values or {}, actor, comment)
    tx.flush(step)
    return tx.view(step, actor)


def compute_metrics(
    tx: CaseTransaction, case_id: str, actor: str, metrics: Sequence[str] | None
) -> tuple[Case, dict[str, Any]]:
    """Run calculators now; each result is stored on the case and in its history."""
    step = tx.open(case_id)
    wf = step.wf
    names = list(metrics) if metrics else list(wf.metrics)
    unknown = [m for m in names if m not in wf.metrics]
    if unknown:
        raise NotFound(
            f"workflow '{wf.id}' has no metric {', '.join(repr(m) for m in unknown)}",
            [f"metrics: {', '.join(wf.metrics) or 'none'}"],
        )
    results = step.compute(names, step.actor(actor))
    step.settle()
    tx.flush(step)
    return tx.view(step, actor), results


def _notices(step: Step) -> list[Notice]:
    """The notifications a step queued, as a fire's result lists them."""
    return [
        Notice(
            id=0,
            channel=o["channel"],
            to=o["recipient"],
            subject=o["subject"],
            message=o["message"],
            event=o["event"],
            dedupe_key=o["dedupe_key"],
        )
        for o in step.writes.outbox
    ]
