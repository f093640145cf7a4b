"""The ``transitions`` state machine that executes every move a case makes (SPEC §2.3, §2.4).

One :class:`CaseMachine` is built per compiled workflow version and shared by all its
cases; the step is its model, with the state during a move as ``machine_state``. opsflow's
``decide`` chooses the transition and explains refusals; the machine executes the chosen
one, so the order of a move is the machine's own:

- an ordinary or reflexive transition (``to`` set, maybe equal to ``from``): the source
  state's ``on_exit`` callback (its exit actions; only a state that has some carries
  it), the machine sets the model's state, then the target's ``on_enter`` callback (the
  visit left ends and a new one begins, the transition's ``do`` actions run, then the
  target's enter actions);
- an internal transition (no ``to``: ``dest=None``): no exit, no entry, only the
  transition's ``after`` callback runs its ``do`` actions, and the visit is kept.

A migration to another version (``runners.migrate``) is the one move made without the
machine: it is no transition of either version, and runs no actions.

The callbacks are the model's methods, named by :class:`CaseModel`. A move is executed
directly (``Transition.execute`` with its own ``EventData``), not through the machine's
event queue: it reads no machine state, so threads may share one machine.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol

from transitions import EventData, Machine, State, Transition

# The model's callbacks (one each: a callback is a dozen calls inside ``transitions``).
EXIT_CALLBACK = "leave"
ENTER_CALLBACK = "arrive"
INTERNAL_CALLBACK = "run_transition_actions"
# The model's attribute the machine reads and sets: the state during a move. The model is
# the step itself, whose case keeps its own ``state``.
MODEL_ATTRIBUTE = "machine_state"


class MachineTransition(Protocol):
    """What the machine needs of a compiled transition (``opsflow.core.compiled``)."""

    @property
    def index(self) -> int: ...  # its position in the file: one per transition
    @property
    def event(self) -> str: ...
    @property
    def sources(self) -> frozenset[str]: ...
    @property
    def to(self) -> str | None: ...  # None: internal
    def describe(self) -> str: ...


class CaseModel(Protocol):
    """What the machine needs of a step's case: its state and the callbacks of a move.

    Each callback gets the machine's ``EventData``: ``transition`` is the :class:`Move`
    executed (None when the case starts), ``state`` the state left or entered, and
    ``kwargs`` what the step passed to :meth:`CaseMachine.execute`.
    """

    machine_state: str  # MODEL_ATTRIBUTE: the state as the machine sees it

    def leave(self, event_data: EventData) -> None:
        """Run the exit actions of the state left (only a state that has some)."""

    def arrive(self, event_data: EventData) -> None:
        """Begin a visit, run the transition's ``do`` actions, then the state's enter actions."""

    def run_transition_actions(self, event_data: EventData) -> None:
        """Run an internal transition's ``do`` actions."""


class Move(Transition):
    """A ``transitions.Transition`` that knows the compiled transition it executes."""

    def __init__(self, *args: Any, compiled: MachineTransition, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled = compiled


class Stage(State):
    """A state whose entry and exit run their callbacks without transitions' log lines.

    ``State.enter``/``exit`` log two lines each (DEBUG and INFO) around the same callback
    dispatch; on every fire that cost about a tenth of the machine's work. The history
    entry is opsflow's record of a move.
    """

    def enter(self, event_data: EventData) -> None:
        event_data.machine.callbacks(self.on_enter, event_data)

    def exit(self, event_data: EventData) -> None:
        if self.on_exit:  # most states have no exit actions
            event_data.machine.callbacks(self.on_exit, event_data)


class CaseMachine(Machine):
    """The machine of one workflow version: one :class:`Move` per transition and source."""

    state_cls = Stage
    transition_cls = Move

    def __init__(
        self,
        states: Iterable[str],
        initial: str,
        transitions: Iterable[MachineTransition],
        exit_actions: Collection[str] = (),
    ) -> None:
        # A state's exit callback is there when it has exit actions; what every exit does
        # besides (the visit ends) is done on entry, which every move with a ``to`` makes.
        super().__init__(
            model=None,  # models are lent per step, never added: the machine holds no case
            states=[
                {"name": name, "on_enter": ENTER_CALLBACK}
                | ({"on_exit": EXIT_CALLBACK} if name in exit_actions else {})
                for name in states
            ],
            initial=initial,
            send_event=True,
            model_attribute=MODEL_ATTRIBUTE,
            auto_transitions=False,
            ignore_invalid_triggers=True,
        )
        self.moves: dict[tuple[int, str], Move] = {}  # (transition index, source) -> move
        for transition in transitions:
            for source in transition.sources:
                self._add_move(transition, source)

    def _add_move(self, transition: MachineTransition, source: str) -> None:
        # dest=None is transitions' internal transition: no exit, no entry.
        after = INTERNAL_CALLBACK if transition.to is None else None
        self.add_transition(
            transition.event, source, transition.to, after=after, compiled=transition
        )
        move = self.events[transition.event].transitions[source][-1]
        assert isinstance(move, Move)
        self.moves[transition.index, source] = move

    def get_state(self, state: Any) -> State:
        """The state of that name (every name this machine is asked for is one of its own)."""
        return self.states[state]

    def set_state(self, state: Any, model: Any = None) -> None:
        """Set ``model``'s state: the model a move is executed on (never all models: this
        machine holds none)."""
        setattr(model, MODEL_ATTRIBUTE, state.value if isinstance(state, State) else state)

    def callbacks(self, funcs: Iterable[Any], event_data: EventData) -> None:
        """Run callbacks in order, as ``Machine.callbacks`` does, without a log line each."""
        for func in funcs:
            self.callback(func, event_data)

    def execute(self, transition: MachineTransition, model: CaseModel, **kwargs: Any) -> None:
        """Execute ``transition`` (already decided) on ``model`` from its current state."""
        move = self.moves[transition.index, model.machine_state]
        event_data = EventData(
            self.get_state(move.source), self.events[transition.event], self, model, (), kwargs
        )
        event_data.transition = move
        if not move.execute(event_data):  # a move has no conditions: decide checked them
            raise RuntimeError(f"the state machine did not take {transition.describe()}")

    def enter_initial(self, model: CaseModel, **kwargs: Any) -> None:
        """Run the initial state's enter callbacks on a starting case (no transition)."""
        state = self.get_state(model.machine_state)
        state.enter(EventData(state, None, self, model, (), kwargs))
