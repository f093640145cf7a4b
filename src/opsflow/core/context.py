"""What a step needs from the engine around it: the time, roles, functions, approvals, plugins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class StepContext:
    """What a step needs from the engine around it."""

    now: datetime
    roles_of: Callable[[str], frozenset[str]]
    functions: Mapping[str, Callable[..., Any]]
    approvals_of: Callable[[str, int, str], set[str]]  # (case, visit, event) -> actors
    plugins: Any  # opsflow.plugins.Plugins
    sources: Mapping[str, Mapping[str, Any]]
    base_dir: Any
    before_hooks: bool = True
    # Errors that end the whole step (database trouble: the transaction is retried or
    # reported), never kept as a failed piece of automation.
    fatal: tuple[type[BaseException], ...] = ()


def team_roles(team: Mapping[str, Sequence[str]]) -> Callable[[str], frozenset[str]]:
    """The roles of a person by name, as the team lists them (none for a stranger)."""

    def roles_of(name: str) -> frozenset[str]:
        return frozenset(team.get(name, ()))

    return roles_of
