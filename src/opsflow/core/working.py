"""A case as the engine works on it inside one transaction, and the writes one step produces."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.results import Case, DeadlineView, EventStatus
from opsflow.language.fields import to_python
from opsflow.language.text import LocalizedText

_MISSING = object()
_COLUMNS = (
    "id", "workflow", "version", "state", "data", "metrics", "actors", "rules", "created_by",
    "created_at", "updated_at", "entered_at", "visit", "closed", "row_version", "seq", "last_hash",
    "assignee",
)  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (as their JSON texts would be)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


_SCALARS = frozenset((str, int, float, bool, type(None)))


def copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists and scalars), without copy.deepcopy's memo."""
    kind = type(value)  # exact types first: a call per container, none per scalar
    if kind is dict:
        return {k: v if type(v) in _SCALARS else copy_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else copy_json(v) for v in value]
    if kind in _SCALARS:
        return value
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return copy.deepcopy(value)


@dataclass
class WorkingCase:
    """The mutable copy of one case row that a step changes and then writes back."""

    id: str
    workflow: str
    version: int
    state: str
    data: dict[str, Any]
    metrics: dict[str, Any]  # name -> {value, computed_at, calculator, params, fingerprint}
    actors: dict[str, list[str]]
    rules: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    entered_at: datetime
    visit: int
    closed: bool
    row_version: int
    seq: int
    last_hash: str
    assignee: str | None = None  # the team member the case is assigned to (SPEC: assignment)
    # The column values as read (None for a new case): a write sets only what changed.
    stored: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Any) -> WorkingCase:
        return cls.from_mapping(row._mapping)

    @classmethod
    def from_mapping(cls, m: Any, *, owned: bool = False) -> WorkingCase:
        """A case from its column values (the row was just decoded: no other owner).

        ``owned``: ``m`` is a dict nobody else holds, kept as the stored values as is.
        """
        return cls(
            id=m["id"],
            workflow=m["workflow"],
            version=m["version"],
            state=m["state"],
            data=dict(m["data"] or {}),
            metrics=dict(m["metrics"] or {}),
            actors=m["actors"] or {},  # never changed in place: see Step.remember_actor
            rules=copy_json(m["rules"] or {}),
            created_by=m["created_by"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            entered_at=m["entered_at"],
            visit=m["visit"],
            closed=bool(m["closed"]),
            row_version=m["row_version"],
            seq=m["seq"],
            last_hash=m["last_hash"],
            assignee=m.get("assignee"),
            stored=m if owned else dict(m),
        )

    def changed_values(self) -> dict[str, Any]:
        """The columns whose values differ from those read (every column for a new case).

        Values are compared with their types, so ``1`` becoming ``true`` or ``1.0`` (equal
        in Python, not in the stored JSON) is still written.
        """
        stored = self.stored
        if stored is None:
            return self.row_values()
        changed = {}
        current = self.__dict__
        for name in _COLUMNS:
            value = current[name]
            old = stored.get(name, _MISSING)
            if value is old:
                continue
            if (
                type(value) is not type(old)
                or value != old
                # equal and of one type: only a non-empty container can hide 1 vs true
                or (isinstance(value, dict | list) and value and not _same(value, old))
            ):
                changed[name] = value
        return changed

    def row_values(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow": self.workflow,
            "version": self.version,
            "state": self.state,
            "data": self.data,
            "metrics": self.metrics,
            "actors": self.actors,
            "rules": self.rules,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "entered_at": self.entered_at,
            "visit": self.visit,
            "closed": self.closed,
            "row_version": self.row_version,
            "seq": self.seq,
            "last_hash": self.last_hash,
            "assignee": self.assignee,
        }

    def metric_values(self) -> dict[str, Any]:
        return {name: d.get("value") for name, d in self.metrics.items()}

    def scope(self, wf: CompiledWorkflow, actor: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The names an expression sees (SPEC §2.6)."""
        values = {name: to_python(spec, self.data.get(name)) for name, spec in wf.fields.items()}
        scope: dict[str, Any] = dict(values)
        scope.update(
            data=values,
            metrics=self.metric_values(),
            actor=actor,
            state=self.state,
            entered_at=self.entered_at,
            created_by=self.created_by,
            assignee=self.assignee,
            now=now,
        )
        return scope

    def view(
        self,
        title: LocalizedText | None = None,
        *,
        deadlines: list[DeadlineView] | None = None,
        events: list[EventStatus] | Callable[[], list[EventStatus]] | None = None,
    ) -> Case:
        """The case as the API returns it; ``events`` may be a function computing them later."""
        values: dict[str, Any] = {
            "id": self.id,
            "workflow": self.workflow,
            "version": self.version,
            "state": self.state,
            "data": copy_json(self.data),
            "metrics": self.metric_values(),
            "metric_details": copy_json(self.metrics),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "entered_at": self.entered_at,
            "closed": self.closed,
            "row_version": self.row_version,
            "assignee": self.assignee,
            "deadlines": deadlines if deadlines is not None else [],
            "title": title,
            "incidents": [],
        }
        if callable(events):
            return Case.deferred(events, **values)
        return Case(**values, events=events if events is not None else [])

    def fork(self) -> WorkingCase:
        """A copy whose data can change without touching this case's (a dry run's probe)."""
        other = object.__new__(WorkingCase)
        other.__dict__.update(self.__dict__)
        other.data = dict(self.data)  # changed a key at a time (apply_data), never in place
        return other


@dataclass
class Writes:
    """Rows one step adds or changes, flushed together at the end of the transaction."""

    history: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    approvals_add: list[dict[str, Any]] = field(default_factory=list)
    left: set[str] = field(default_factory=set)  # states left: their approvals and deadlines go
    entered: bool = False  # the case entered a state: re-arm deadlines for the final visit
    changed_fields: set[str] = field(default_factory=set)
    incidents: list[dict[str, Any]] = field(default_factory=list)  # automation that failed
    done: set[str] = field(default_factory=set)  # automation that ran ("kind:target")
    computed: set[str] = field(default_factory=set)  # metrics computed
