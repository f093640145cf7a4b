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
    team: Mapping[str, Sequence[str]]  # person -> roles (a stranger has none)
    functions: Mapping[str, Callable[..., Any]]
    approvals_of: Callable[[str, int, str], set[str]]  # (case, visit, event) -> actors
    plugins: Any  # opsflow.plugins.Plugins
    sources: Mapping[str, Mapping[str, Any]]
    base_dir: Any
    before_hooks: bool = True
    # Errors that end the whole step (database trouble: the transaction is retried or
    # reported), never kept as a failed piece of automation.
    fatal: tuple[type[BaseException], ...] = ()
