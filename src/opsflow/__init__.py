"""opsflow: a rules and workflow engine for operations teams.

Workflows are declarative YAML; each case runs as a persisted state machine. The public
API is small: :class:`Engine` and the errors it raises. Heavy modules (SQLAlchemy, the
engine) load on first use so that ``import opsflow`` and ``opsflow --help`` stay fast.
"""

from __future__ import annotations

import typing

from opsflow.errors import (
    Busy,
    ConfigError,
    Conflict,
    Damaged,
    Invalid,
    NotFound,
    NotPermitted,
    OpsflowError,
    Refused,
    Usage,
)

__version__ = "0.1.0"

if typing.TYPE_CHECKING:
    from opsflow.engine import Engine
    from opsflow.engine.results import Case, FireResult, HistoryEntry, Incident
    from opsflow.hookspecs import hookimpl

_LAZY = {
    "Engine": ("opsflow.engine", "Engine"),
    "Case": ("opsflow.engine.results", "Case"),
    "FireResult": ("opsflow.engine.results", "FireResult"),
    "HistoryEntry": ("opsflow.engine.results", "HistoryEntry"),
    "Incident": ("opsflow.engine.results", "Incident"),
    "hookimpl": ("opsflow.hookspecs", "hookimpl"),
}


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'opsflow' has no attribute {name!r}")


__all__ = [
    "Busy",
    "Case",
    "ConfigError",
    "Conflict",
    "Damaged",
    "Engine",
    "FireResult",
    "HistoryEntry",
    "Incident",
    "Invalid",
    "NotFound",
    "NotPermitted",
    "OpsflowError",
    "Refused",
    "Usage",
    "__version__",
    "hookimpl",
]
