"""Who holds a case when it enters a state: ``assign:`` on entry, the assignee cleared on leaving.

A case that leaves its state for another, or goes back into the same one (re-entering
it), loses its assignee unless the state it enters assigns again; an internal transition
never leaves and keeps it. A state with ``assign:`` picks on entry (a start too):

- ``{role: R, policy: round_robin}``: the holder of R (team members sorted by name) after
  the one who got this (workflow, state)'s previous automatic assignment; a holder whom
  four-eyes (``not_by``) stops from firing an event of the state open to R is skipped
  (an author is not given her own piece to review), unless nobody else holds R;
- ``{role: R, policy: least_open}``: the holder of R with the fewest open cases, of any
  workflow, assigned to them (ties: by name);
- ``{field: F}``: the team member named in F; an empty field or a name outside the team
  assigns nobody, and the entry says why (``reason``).

The change is one ``assignment`` entry by ``system`` (``detail: {from, to}`` and how it
was decided): leaving a state for one that assigns writes that one entry, not a clearing
and then an assignment. Nothing changing writes nothing. The turns of ``round_robin`` and
the counts of ``least_open`` are the engine's (``StepContext.pick_holder``): they read the
database, in the step's transaction.
"""

from __future__ import annotations

from typing import Any

from opsflow.core.compiled import CompiledTransition
from opsflow.core.context import StepParts
from opsflow.core.decide import SYSTEM
from opsflow.language.fields import is_empty
from opsflow.language.models import AssignSpec


class AutoAssign(StepParts):
    """The assignee on entering a state (a part of :class:`opsflow.core.step.Step`)."""

    def assign_on_entry(self, left: str | None) -> None:
        """Settle the assignee as the case enters its state (``left``: the state it left,
        None for a start)."""
        case = self.case
        spec = self.wf.spec.states[case.state].assign
        if spec is None:
            if case.assignee is not None and left is not None:
                self.change_assignee(None, SYSTEM, left=left)
            return
        chosen, how = self._choose(spec)
        if left is not None:
            how = {"left": left, **how}
        if chosen != case.assignee or "reason" in how:
            self.change_assignee(chosen, SYSTEM, **how)

    def change_assignee(
        self, name: str | None, actor: str, comment: str | None = None, **detail: Any
    ) -> None:
        """Assign the case to ``name`` (None: to nobody), audited as an ``assignment`` entry."""
        state, previous = self.case.state, self.case.assignee
        self.case.assignee = name
        self.data_changed()  # ``assignee`` is in the expressions' scope
        self.record_entry(
            self.next_seq(),
            "assignment",
            actor,
            from_state=state,
            to_state=state,
            comment=comment,
            detail={"from": previous, "to": name, **detail},
        )

    def _barred(self, role: str) -> set[str]:
        """Who four-eyes stops from firing some event of this state that ``role`` may fire
        (the author of a piece, say, who may not approve it): they are not given the case."""
        case, wf = self.case, self.wf
        barred = {
            name
            for (state, _event), found in wf.table.items()
            if state == case.state
            for t in found
            if _open_to(t, role)
            for event in t.not_by
            for name in case.actors.get(event) or ()
        }
        # a delegate counts as whom they cover: standing in for a barred person bars them too
        covering = self.ctx.covering
        return barred | {name for name, covered in covering.items() if barred & set(covered)}

    def _choose(self, spec: AssignSpec) -> tuple[str | None, dict[str, Any]]:
        """The person ``spec`` gives the case to (None: nobody) and how it was decided."""
        team = self.ctx.team
        if spec.field is not None:
            how: dict[str, Any] = {"field": spec.field}
            value = self.case.data.get(spec.field)
            if is_empty(value):
                return None, {**how, "reason": f"field '{spec.field}' is empty"}
            name = str(value)
            if team and name not in team:
                return None, {**how, "reason": f"'{name}' is not in the team"}
            return name, how
        role = spec.role
        assert role is not None  # AssignSpec: a role or a field
        how = {"role": role, "policy": spec.rotation}
        holders = sorted(person for person, roles in team.items() if role in roles)
        if not holders:
            return None, {**how, "reason": f"no one in the team holds role '{role}'"}
        able = [person for person in holders if person not in self._barred(role)]
        if able != holders and able:  # nobody else: the case goes round as before
            how["skipped"] = [person for person in holders if person not in able]
            holders = able
        pick = self.ctx.pick_holder
        if pick is None:  # a step without a database (a preview): the first in line
            return holders[0], how
        chosen = pick(spec.rotation, self.wf.id, self.case.state, holders, self.case.id)
        return chosen, how


def _open_to(transition: CompiledTransition, role: str) -> bool:
    """Whether ``role`` may fire (or approve) ``transition``; no roles named: anyone may."""
    roles = transition.approver_roles if transition.approvals is not None else transition.roles
    return roles is None or role in roles
