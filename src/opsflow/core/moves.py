"""A step as the workflow machine's model (see :mod:`opsflow.core.machine`).

The machine calls the model's callbacks in the order of a move; they end and begin visits
and run the step's exit, ``do`` and enter actions.
"""

from __future__ import annotations

from typing import Any

from transitions import EventData

from opsflow.core.autoassign import AutoAssign
from opsflow.core.compiled import CompiledTransition
from opsflow.core.context import StepParts
from opsflow.core.machine import Move


class Moves(AutoAssign, StepParts):
    """A step as the workflow machine's model: the callbacks of a move (a part of Step).

    ``machine_state`` is the state as the machine sees it during a move: the step sets it
    to the case's state before handing the move over, the machine sets it between exit and
    entry, and entry copies it to the case. The machine calls these methods in the order of
    a move (see :mod:`opsflow.core.machine`); ``event_data.kwargs`` carries the actor, the
    history entry and its ``seq``.
    """

    def leave(self, event_data: EventData) -> None:
        """Run the exit actions of the state left (called only for a state that has some)."""
        move: Move = event_data.transition  # type: ignore[assignment]  # a Move, always
        kwargs = event_data.kwargs
        actions = self.wf.on_exit[self.case.state]
        event = move.compiled.event
        self.run_actions(actions, kwargs["actor"], event, kwargs["seq"], kwargs["entry"])

    def arrive(self, event_data: EventData) -> None:
        """End the visit left, begin one here, run the transition's ``do`` actions, settle the
        assignee (see :mod:`opsflow.core.autoassign`), then run the state's enter actions.
        A starting case (no transition) is in its first visit."""
        case = self.case
        move: Move | None = event_data.transition  # type: ignore[assignment]  # None: a start
        event = None
        if move is not None:
            self.writes.left.add(move.source)
            self.pending_votes.clear()  # the visit's votes end with it
            case.state = self.machine_state  # where the machine moved it
            case.visit += 1
            case.entered_at = self.ctx.now
            case.closed = case.state in self.wf.finals
            self.data_changed()
            event = self._do(move, event_data.kwargs)
        self.assign_on_entry(None if move is None else move.source)
        self.writes.entered = True
        actions = self.wf.on_enter.get(case.state)
        if actions:
            kwargs = event_data.kwargs
            self.run_actions(actions, kwargs["actor"], event, kwargs["seq"], kwargs["entry"])

    def run_transition_actions(self, event_data: EventData) -> None:
        """An internal transition's ``do`` actions (the machine's ``after`` callback)."""
        self._do(event_data.transition, event_data.kwargs)  # type: ignore[arg-type]

    def _do(self, move: Move, kwargs: dict[str, Any]) -> str:
        """The transition's ``do`` actions, as the actor who fired it; its event."""
        transition: CompiledTransition = move.compiled  # type: ignore[assignment]
        actor = kwargs["actor"]
        entry = kwargs.get("entry") or {}
        self.remember_actor(
            transition.event, actor, (entry.get("detail") or {}).get("on_behalf_of")
        )
        if transition.actions:
            self.run_actions(
                transition.actions, actor, transition.event, kwargs["seq"], kwargs["entry"]
            )
        return transition.event
