"""A step's case as the workflow machine's model, for one move (see :mod:`opsflow.core.machine`).

The machine calls the model's callbacks in the order of a move; they end and begin visits
and run the step's exit, ``do`` and enter actions.
"""

from __future__ import annotations

from typing import Any, Protocol

from transitions import EventData

from opsflow.core.compiled import CompiledAction, CompiledTransition, CompiledWorkflow
from opsflow.core.context import StepContext
from opsflow.core.decide import Actor
from opsflow.core.machine import Move
from opsflow.core.working import WorkingCase, Writes


class MovingStep(Protocol):
    """What a move needs of the step it is part of (:class:`opsflow.core.step.Step`)."""

    wf: CompiledWorkflow
    case: WorkingCase
    ctx: StepContext
    writes: Writes
    pending_votes: dict[str, set[str]]

    def data_changed(self) -> None: ...
    def remember_actor(self, event: str, actor: Actor) -> None: ...
    def run_actions(
        self,
        actions: tuple[CompiledAction, ...],
        actor: Actor,
        event: str | None,
        seq: int,
        entry: dict[str, Any] | None = None,
        origin: dict[str, Any] | None = None,
    ) -> None: ...


class MovingCase:
    """A step's case as the workflow machine's model, for one move.

    ``state`` starts as the working case's state; the machine sets it between exit and
    entry, and entry copies it to the case. The machine calls these methods in the order
    of a move (see :mod:`opsflow.core.machine`); ``event_data.kwargs`` carries the actor,
    the history entry and its ``seq``.
    """

    __slots__ = ("step", "state")

    def __init__(self, step: MovingStep) -> None:
        self.step = step
        self.state = step.case.state

    def leave(self, event_data: EventData) -> None:
        """Run the exit actions of the state left (called only for a state that has some)."""
        step = self.step
        move: Move = event_data.transition  # type: ignore[assignment]  # a Move, always
        kwargs = event_data.kwargs
        actions = step.wf.on_exit[step.case.state]
        event = move.compiled.event
        step.run_actions(actions, kwargs["actor"], event, kwargs["seq"], kwargs["entry"])

    def arrive(self, event_data: EventData) -> None:
        """End the visit left, begin one here, run the transition's ``do`` actions, then the
        state's enter actions. A starting case (no transition) is in its first visit."""
        step, case = self.step, self.step.case
        move: Move | None = event_data.transition  # type: ignore[assignment]  # None: a start
        event = None
        if move is not None:
            step.writes.left.add(move.source)
            step.pending_votes.clear()  # the visit's votes end with it
            case.state = self.state  # where the machine moved it
            case.visit += 1
            case.entered_at = step.ctx.now
            case.closed = case.state in step.wf.finals
            step.data_changed()
            event = self._do(move, event_data.kwargs)
        step.writes.entered = True
        actions = step.wf.on_enter.get(case.state)
        if actions:
            kwargs = event_data.kwargs
            step.run_actions(actions, kwargs["actor"], event, kwargs["seq"], kwargs["entry"])

    def run_transition_actions(self, event_data: EventData) -> None:
        """An internal transition's ``do`` actions (the machine's ``after`` callback)."""
        self._do(event_data.transition, event_data.kwargs)  # type: ignore[arg-type]

    def _do(self, move: Move, kwargs: dict[str, Any]) -> str:
        """The transition's ``do`` actions, as the actor who fired it; its event."""
        transition: CompiledTransition = move.compiled  # type: ignore[assignment]
        actor = kwargs["actor"]
        self.step.remember_actor(transition.event, actor)
        if transition.actions:
            self.step.run_actions(
                transition.actions, actor, transition.event, kwargs["seq"], kwargs["entry"]
            )
        return transition.event
