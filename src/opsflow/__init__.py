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
    IncidentClosed,
    Invalid,
    InvalidQuery,
    KeyReused,
    MigrationRefused,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    OpsflowError,
    PluginRefusal,
    PreconditionFailed,
    Refused,
    Usage,
)
from opsflow.version import __version__

if typing.TYPE_CHECKING:
    from opsflow.core.diagram import Diagram
    from opsflow.core.results import (
        AuditProblem,
        Case,
        CaseList,
        DeadlineView,
        EventStatus,
        FireResult,
        HistoryEntry,
        Incident,
        Notice,
        OutboxRow,
        WorkerReport,
        WorkflowSummary,
    )
    from opsflow.engine.definitions import Definitions
    from opsflow.engine.digest import Digest
    from opsflow.engine.gauges import Gauges
    from opsflow.engine.inbox import InboxPage
    from opsflow.engine.search import SearchPage, SearchQuery
    from opsflow.facade import Engine
    from opsflow.hookspecs import hookimpl
    from opsflow.language.diagnostics import Diagnostic
    from opsflow.language.loader import LoadContext
    from opsflow.language.models import WorkflowSpec
    from opsflow.plugins import Plugins
    from opsflow.runners.bulk import BulkItem, BulkResult
    from opsflow.runners.migrate import MigrationReport, MovedCase, RefusedCase
    from opsflow.runners.outbox_pages import OutboxPage
    from opsflow.store import Database

# What the Engine's public methods return, loaded on first use (tests/test_public_api.py
# checks that this covers every type their signatures name).
_RESULTS = (
    "AuditProblem",
    "Case",
    "CaseList",
    "DeadlineView",
    "EventStatus",
    "FireResult",
    "HistoryEntry",
    "Incident",
    "Notice",
    "OutboxRow",
    "WorkerReport",
    "WorkflowSummary",
)
_LAZY = {
    "Engine": ("opsflow.facade", "Engine"),
    **{name: ("opsflow.core.results", name) for name in _RESULTS},
    "Digest": ("opsflow.engine.digest", "Digest"),
    "Gauges": ("opsflow.engine.gauges", "Gauges"),
    "Diagram": ("opsflow.core.diagram", "Diagram"),
    "InboxPage": ("opsflow.engine.inbox", "InboxPage"),
    "SearchPage": ("opsflow.engine.search", "SearchPage"),
    "SearchQuery": ("opsflow.engine.search", "SearchQuery"),
    "OutboxPage": ("opsflow.runners.outbox_pages", "OutboxPage"),
    "Database": ("opsflow.store", "Database"),
    "Definitions": ("opsflow.engine.definitions", "Definitions"),
    "Plugins": ("opsflow.plugins", "Plugins"),
    "BulkItem": ("opsflow.runners.bulk", "BulkItem"),
    "BulkResult": ("opsflow.runners.bulk", "BulkResult"),
    "MigrationReport": ("opsflow.runners.migrate", "MigrationReport"),
    "MovedCase": ("opsflow.runners.migrate", "MovedCase"),
    "RefusedCase": ("opsflow.runners.migrate", "RefusedCase"),
    "Diagnostic": ("opsflow.language.diagnostics", "Diagnostic"),
    "LoadContext": ("opsflow.language.loader", "LoadContext"),
    "WorkflowSpec": ("opsflow.language.models", "WorkflowSpec"),
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
    "AuditProblem",
    "BulkItem",
    "BulkResult",
    "Busy",
    "Case",
    "CaseList",
    "ConfigError",
    "Conflict",
    "Damaged",
    "Database",
    "DeadlineView",
    "Definitions",
    "Diagnostic",
    "Diagram",
    "Digest",
    "Engine",
    "EventStatus",
    "FireResult",
    "Gauges",
    "HistoryEntry",
    "InboxPage",
    "Incident",
    "IncidentClosed",
    "Invalid",
    "InvalidQuery",
    "KeyReused",
    "LoadContext",
    "MigrationRefused",
    "MigrationReport",
    "MovedCase",
    "NotAuthenticated",
    "NotFound",
    "NotPermitted",
    "Notice",
    "OpsflowError",
    "OutboxPage",
    "OutboxRow",
    "PluginRefusal",
    "Plugins",
    "PreconditionFailed",
    "RefusedCase",
    "Refused",
    "SearchPage",
    "SearchQuery",
    "Usage",
    "WorkerReport",
    "WorkflowSpec",
    "WorkflowSummary",
    "__version__",
    "hookimpl",
]
