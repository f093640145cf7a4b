"""A state's or transition's actions, run inside a step: ``set``, ``notify``, ``compute``, ``fire``.

:class:`Actions` is a part of :class:`opsflow.core.step.Step` (a mixin: no call is added
on a fire); what it uses of the step is declared in ``core.context.StepParts``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from opsflow.clock import iso
from opsflow.core.compiled import CompiledAction
from opsflow.core.context import StepParts
from opsflow.core.decide import SYSTEM, Actor
from opsflow.core.delegation import recipients
from opsflow.core.metrics import run_metric
from opsflow.errors import Invalid
from opsflow.language.expressions import EvaluationError
from opsflow.template_filters import ZONE_VARIABLE
from opsflow.templating import render_message

log = logging.getLogger("opsflow.notify")


class Actions(StepParts):
    """Running actions on a step's case; the rows they write go into the step's writes."""

    def run_actions(
        self,
        actions: tuple[CompiledAction, ...],
        actor: Actor,
        event: str | None,
        seq: int,
        entry: dict[str, Any] | None = None,
        origin: dict[str, Any] | None = None,
    ) -> None:
        """Run actions in order; ``set`` changes go into ``entry`` (or a ``data`` entry)."""
        for action in actions:
            if action.kind == "set":
                changes = self._set(action, actor)
                if not changes:
                    continue
                if entry is not None:
                    entry["data_changes"].update(changes)
                else:
                    self.record_entry(
                        self.next_seq(), "data", SYSTEM, changes=changes, detail=origin
                    )
            elif action.kind == "notify":
                self._notify(action, actor, event)
            elif action.kind == "compute":
                names = list(action.spec.compute or [])
                self.automation(
                    "compute",
                    ",".join(names),
                    partial(self.compute, names, actor),
                    actor,
                    event,
                    metrics=names,
                )
            elif action.kind == "fire":
                assert action.spec.fire is not None
                self.followups.append((action.spec.fire, actor))

    def _set(self, action: CompiledAction, actor: Actor) -> dict[str, Any]:
        scope = self.scope_for(actor)
        values: dict[str, Any] = {}
        for name, expression, literal in action.set_values:
            if expression is None:
                values[name] = literal
                continue
            try:
                values[name] = _jsonable(expression.evaluate(scope, self.ctx.functions))
            except EvaluationError as exc:
                raise Invalid(
                    f"set {name}: '{expression.source}' could not be evaluated: {exc.message}"
                ) from exc
        return self.apply_data(values)

    def template_variables(self, actor: Actor, event: str | None) -> dict[str, Any]:
        variables: dict[str, Any] = {name: self.case.data.get(name) for name in self.wf.fields}
        variables.update(
            state=self.case.state,
            event=event,
            actor=actor.name,
            case_id=self.case.id,
            metrics=self.case.metric_values(),
            data=dict(self.case.data),
        )
        variables[ZONE_VARIABLE] = self.ctx.zone  # for ``| local``
        return variables

    def _notify(self, action: CompiledAction, actor: Actor, event: str | None) -> None:
        spec = action.spec.notify
        assert spec is not None
        variables = self.template_variables(actor, event)
        to = recipients(
            render_message(spec.to, variables), self.case.assignee, self.ctx.team, self.ctx.covering
        )
        if to is None:  # ``to: assignee`` and nobody holds the case: no one to tell
            log.info(
                "case %s: notify on channel '%s' skipped: it goes to the assignee and the "
                "case is assigned to nobody",
                self.case.id,
                spec.channel,
            )
            return
        self.notices += 1
        key_source = f"{self.case.id}:{self.first_seq or self.case.seq}:{self.notices}"
        self.writes.outbox.append(
            {
                "case_id": self.case.id,
                "seq": self.case.seq,
                "channel": spec.channel,
                "recipient": to,
                "subject": render_message(spec.subject, variables) if spec.subject else None,
                "message": render_message(spec.message, variables),
                "event": event,
                "dedupe_key": hashlib.sha256(key_source.encode()).hexdigest()[:32],
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": self.ctx.now,
                "created_at": self.ctx.now,
            }
        )

    def compute(self, names: list[str], actor: Actor) -> dict[str, Any]:
        """Run calculators, store each result on the case and write a ``metric`` entry each."""
        results: dict[str, Any] = {}
        for name in names:
            spec = self.wf.metrics.get(name)
            if spec is None:
                raise Invalid(f"workflow '{self.wf.id}' has no metric '{name}'")
            record = run_metric(
                name,
                spec,
                case=self.case.view().to_json(),
                variables=self.template_variables(actor, None),
                plugins=self.ctx.plugins,
                sources=self.ctx.sources,
                base_dir=self.ctx.base_dir,
                now=self.ctx.now,
            )
            self.case.metrics[name] = record
            self.writes.computed.add(name)
            self.data_changed()
            results[name] = record["value"]
            self.record_entry(
                self.next_seq(), "metric", actor.name, detail={"metric": name, **record}
            )
        return results


def _jsonable(value: Any) -> Any:
    """An expression result as a value a field can hold (dates become their ISO text)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
