"""What the project knows beyond a workflow file, for the checks: :class:`LoadContext`.

Its own module so that the loader, the checks and the spec cache all read it without
importing one another (:mod:`opsflow.language.loader` re-exports it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LoadContext:
    """What the project knows beyond the file: plugins, channels, sources and team.

    ``params_models`` pairs a calculator's name with its params model (a pydantic model
    class); ``team`` pairs each person with the roles they hold.
    """

    calculators: frozenset[str] | None = None  # None: calculator names are not checked
    channels: frozenset[str] | None = None  # None: no channels configured -> a warning each
    functions: frozenset[str] = frozenset()  # expression functions registered by plugins
    sources: frozenset[str] | None = None  # None: source names are not checked
    team: tuple[tuple[str, frozenset[str]], ...] | None = None  # None: no team configured
    params_models: tuple[tuple[str, Any], ...] = ()
    calendars: frozenset[str] | None = None  # None: calendar names are not checked
    # (calendar, years a deadline can reach with no official holiday data): validate warns
    calendar_gaps: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def params_model(self, calculator: str) -> Any:
        """The params model ``calculator`` declared, or None."""
        return next((model for name, model in self.params_models if name == calculator), None)


def team_context(
    team: Mapping[str, Sequence[str]] | None,
) -> tuple[tuple[str, frozenset[str]], ...] | None:
    """``team`` (person -> roles) as :attr:`LoadContext.team`; None when no one is listed."""
    if not team:
        return None
    return tuple(sorted((person, frozenset(roles)) for person, roles in team.items()))
