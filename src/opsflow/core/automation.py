"""A piece of automation in a step (a calculator, rule, automatic transition, follow-up fire).

It runs under a savepoint of the step: when it fails, what it changed is put back and the
failure is kept, to be written as an incident the worker retries; the step goes on.
:class:`Automation` is a part of :class:`opsflow.core.step.Step` (a mixin).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opsflow.core.context import StepParts
from opsflow.core.decide import Actor
from opsflow.core.working import copy_json
from opsflow.errors import Busy, OpsflowError


@dataclass
class _Savepoint:
    """What a piece of automation may change, to put back when it fails."""

    case: dict[str, Any]
    data: dict[str, Any]
    metrics: dict[str, Any]
    rules: Any
    counts: tuple[int, ...]  # history, outbox, approvals, incidents, transitions, notices
    left: set[str]
    entered: bool
    changed: set[str]
    followups: list[tuple[str, Actor]]
    pending: dict[str, set[str]]
    failed: dict[str, str]
    done: set[str]
    computed: set[str]


class Automation(StepParts):
    """Running a piece of automation under a savepoint of the step."""

    def automation(
        self,
        kind: str,
        target: str,
        work: Callable[[], Any],
        actor: Actor,
        event: str | None = None,
        **detail: Any,
    ) -> bool:
        """Run one piece of automation; when it fails, undo it and keep the failure.

        The step goes on without it: a person's change is not lost to a calculator that
        failed, and the failure becomes an incident the worker retries (never dropped).
        """
        key = f"{kind}:{target}"
        if key in self.failed:
            return False
        sp = self._savepoint()
        state, visit = self.case.state, self.case.visit
        try:
            work()
        except Exception as exc:
            if isinstance(exc, (Busy, *self.ctx.fatal)):
                raise
            self._rollback(sp)  # a failure inside it is moot with it (and tried again)
            message = failure_text(exc)
            self.failed[key] = message
            self.writes.incidents.append(
                {
                    "kind": kind,
                    "target": target,
                    "workflow": self.wf.id,
                    "case_id": self.case.id,
                    "state": state,
                    "visit": visit,
                    "event": event,
                    "actor": actor.name,
                    "detail": detail,
                    "error": message,
                }
            )
            return False
        self.writes.done.add(key)
        return True

    def _savepoint(self) -> _Savepoint:
        c, w = self.case, self.writes
        return _Savepoint(
            case=dict(c.__dict__),
            data=dict(c.data),
            metrics=dict(c.metrics),
            rules=copy_json(c.rules),
            counts=(
                len(w.history),
                len(w.outbox),
                len(w.approvals_add),
                len(w.incidents),
                len(self.transitions_taken),
                self.notices,
            ),
            left=set(w.left),
            entered=w.entered,
            changed=set(w.changed_fields),
            followups=list(self.followups),
            pending={k: set(v) for k, v in self.pending_votes.items()},
            failed=dict(self.failed),
            done=set(w.done),
            computed=set(w.computed),
        )

    def _rollback(self, sp: _Savepoint) -> None:
        c, w = self.case, self.writes
        c.__dict__.update(sp.case)
        c.data, c.metrics, c.rules = sp.data, sp.metrics, sp.rules
        history, outbox, approvals, incidents, taken, self.notices = sp.counts
        del w.history[history:], w.outbox[outbox:], w.approvals_add[approvals:]
        del w.incidents[incidents:]  # a failure inside the failed piece is moot with it
        del self.transitions_taken[taken:]
        w.left, w.entered, w.changed_fields = sp.left, sp.entered, sp.changed
        self.followups = deque(sp.followups)
        self.pending_votes = sp.pending
        self.failed, w.done, w.computed = sp.failed, sp.done, sp.computed
        if not w.history:
            self.first_seq = 0
        self.data_changed()


def failure_text(exc: BaseException) -> str:
    """One line saying what went wrong, with the reasons an opsflow error carries."""
    if isinstance(exc, OpsflowError):
        reasons = [r for r in exc.reasons if r not in exc.message]
        return "; ".join([exc.message, *reasons])
    return f"{type(exc).__name__}: {exc}"
