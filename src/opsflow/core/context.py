"""What a step needs from the engine around it: the time, roles, functions, approvals, plugins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections import deque

    from opsflow.core.compiled import CompiledAction, CompiledTransition, CompiledWorkflow
    from opsflow.core.decide import Actor
    from opsflow.core.working import WorkingCase, Writes


@dataclass
class StepContext:
    """What a step needs from the engine around it."""

    now: datetime
    team: Mapping[str, Sequence[str]]  # person -> roles (a stranger has none)
    functions: Mapping[str, Callable[..., Any]]
    approvals_of: Callable[[str, int, str], set[str]]  # (case, visit, event) -> actors
    plugins: Any  # opsflow.plugins.Plugins
    sources: Mapping[str, Mapping[str, Any]]
    base_dir: Any
    before_hooks: bool = True
    # Who stands in for whom now (delegate -> delegators; see opsflow.core.delegation).
    covering: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Picks the holder of a role who gets a case entering a state with ``assign: {role}``:
    # (policy, workflow, state, holders sorted, case id) -> one of the holders.
    pick_holder: Callable[[str, str, str, Sequence[str], str], str] | None = None
    # The project's time zone: naive datetimes typed by a person are read in it, and
    # expressions see ``now`` in it (so ``today`` is the date there).
    zone: tzinfo = UTC
    # Errors that end the whole step (database trouble: the transaction is retried or
    # reported), never kept as a failed piece of automation.
    fatal: tuple[type[BaseException], ...] = ()


class StepParts:
    """What the parts of a step share: :class:`opsflow.core.step.Step` and the mixins it is
    made of (actions, automation, settling, moves), declared once for the type checker."""

    if TYPE_CHECKING:
        wf: CompiledWorkflow
        case: WorkingCase
        ctx: StepContext
        writes: Writes
        followups: deque[tuple[str, Actor]]
        notices: int
        first_seq: int
        pending_votes: dict[str, set[str]]
        transitions_taken: list[tuple[CompiledTransition, Actor, dict[str, Any]]]
        failed: dict[str, str]
        machine_state: str

        def actor(self, name: str) -> Actor: ...
        def next_seq(self) -> int: ...
        def record_entry(
            self,
            seq: int,
            kind: str,
            actor: str,
            *,
            event: str | None = None,
            from_state: str | None = None,
            to_state: str | None = None,
            changes: dict[str, Any] | None = None,
            comment: str | None = None,
            detail: dict[str, Any] | None = None,
        ) -> dict[str, Any]: ...
        def scope_for(self, actor: Actor) -> dict[str, Any]: ...
        def data_changed(self) -> None: ...
        def apply_data(self, data: Mapping[str, Any]) -> dict[str, Any]: ...
        def remember_actor(
            self, event: str, actor: Actor, on_behalf_of: str | None = None
        ) -> None: ...
        def fire(self, event: str, actor: Actor, *, settle: bool = True) -> object: ...
        def take(
            self,
            transition: CompiledTransition,
            actor: Actor,
            changes: dict[str, Any],
            comment: str | None,
            kind: str = "transition",
        ) -> None: ...
        def run_actions(
            self,
            actions: tuple[CompiledAction, ...],
            actor: Actor,
            event: str | None,
            seq: int,
            entry: dict[str, Any] | None = None,
            origin: dict[str, Any] | None = None,
        ) -> None: ...
        def automation(
            self,
            kind: str,
            target: str,
            work: Callable[[], Any],
            actor: Actor,
            event: str | None = None,
            **detail: Any,
        ) -> bool: ...
