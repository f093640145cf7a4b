"""Validation diagnostics: one problem at a place in a file (SPEC §2.9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A problem found while loading a workflow; sorts by (path, line, col)."""

    path: str
    line: int  # 1-based
    col: int  # 1-based
    severity: Severity
    message: str

    def format(self) -> str:
        """Return the ``PATH:LINE:COL: error: MESSAGE`` form."""
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        """Whether this diagnostic is an error (not a warning)."""
        return self.severity == "error"

    def __str__(self) -> str:
        return self.format()


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """Whether any of ``diagnostics`` is an error."""
    return any(d.severity == "error" for d in diagnostics)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by (path, line, col) and drop exact duplicates."""
    return sorted(set(diagnostics))
