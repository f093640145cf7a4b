"""Settling a step's case: rules and automatic transitions until nothing changes, then the
follow-up fires that ``fire`` actions asked for, all bounded by :data:`MAX_CHAIN`.

:class:`Settling` is a part of :class:`opsflow.core.step.Step` (a mixin: no call is added
on a fire); each rule, automatic transition and follow-up runs as a piece of automation.
"""

from __future__ import annotations

from functools import partial

from opsflow.core.compiled import CompiledTransition
from opsflow.core.context import StepParts
from opsflow.core.decide import SYSTEM, Actor
from opsflow.errors import Invalid
from opsflow.language.expressions import EvaluationError

MAX_CHAIN = 50  # automatic transitions, rule rounds and follow-up fires per step


class Settling(StepParts):
    """Rules, automatic transitions and follow-up fires, run until the case settles."""

    def settle(self) -> None:
        """Run rules and automatic transitions until nothing changes, then follow-up fires."""
        wf = self.wf
        if not (wf.rules or self.followups or wf.auto.get(self.case.state)):
            return  # nothing can run (most fires): no round at all
        trail = [self.case.state]
        for _ in range(MAX_CHAIN):
            if self._run_rules():
                continue
            auto = self._auto_transition()
            if auto is not None:
                system = self.actor(SYSTEM)
                take = partial(self.take, auto, system, {}, None, "transition")
                if self.automation("auto", auto.event, take, system, auto.event):
                    trail.append(self.case.state)
                continue
            if self.followups and not self.case.closed:
                event, actor = self.followups.popleft()
                self.follow_up(event, actor)
                continue
            self.followups.clear()
            return
        raise Invalid(
            f"automatic steps did not settle after {MAX_CHAIN} rounds (a loop?): "
            + " → ".join(trail[:12])
            + (" → …" if len(trail) > 12 else ""),
            ["check the 'auto' transitions, rules and 'fire' actions for a cycle"],
        )

    def _auto_transition(self) -> CompiledTransition | None:
        if self.case.closed:
            return None
        candidates = self.wf.auto.get(self.case.state, ())
        if not candidates:
            return None
        scope = self.scope_for(self.actor(SYSTEM))
        for transition in candidates:
            if f"auto:{transition.event}" in self.failed:
                continue
            try:
                when = transition.when
                if when is None or when.evaluate(scope, self.ctx.functions):
                    return transition
            except EvaluationError:
                continue
        return None

    def _run_rules(self) -> bool:
        """Edge-triggered rules: run actions when ``when`` turns true. True when any ran."""
        if not self.wf.rules:
            return False
        system = self.actor(SYSTEM)
        scope = self.scope_for(system)
        ran = False
        for rule in self.wf.rules:
            state = self.case.rules.setdefault(rule.name, {"active": False, "runs": 0})
            try:
                holds = bool(rule.when.evaluate(scope, self.ctx.functions))
            except EvaluationError:
                holds = False
            if not holds:
                state["active"] = False
                continue
            if state["active"]:
                continue
            state["active"] = True
            if rule.once and state["runs"] >= 1:
                continue
            state["runs"] += 1
            self.run_rule(rule.name, system)
            ran = True
            scope = self.scope_for(system)
        return ran

    def run_rule(self, name: str, actor: Actor) -> bool:
        """Run one rule's actions as a piece of automation (its edge is already taken)."""
        rule = next(r for r in self.wf.rules if r.name == name)
        work = partial(
            self.run_actions, rule.actions, actor, None, self.case.seq, None, {"rule": name}
        )
        return self.automation("rule", name, work, actor, rule=name)

    def follow_up(self, event: str, actor: Actor) -> bool:
        """A ``fire`` action's event, as a piece of automation."""
        work = partial(self.fire, event, actor, settle=False)
        return self.automation("fire", event, work, actor, event)
