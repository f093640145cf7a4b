"""What the engine hands back: cases, history entries, fire results, and their JSON (SPEC §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from opsflow.clock import iso
from opsflow.language.text import LocalizedText

# The words the engine answers with, each defined once (SPEC §3).
StepOutcome = Literal["transitioned", "approval_recorded"]  # what a fire that ran did
FireOutcomeName = Literal["transitioned", "approval_recorded", "replayed", "dry_run"]
DeadlineKind = Literal["sla", "timer"]
DeadlineStatus = Literal["pending", "fired", "cancelled", "failed"]
IncidentKind = Literal["timer", "sla", "schedule", "auto", "fire", "compute", "rule"]
IncidentStatus = Literal["retrying", "open", "recovered", "resolved", "cancelled"]
OutboxStatus = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True)
class EventStatus:
    """Whether the current actor may fire one event now, and why not."""

    event: str
    allowed: bool
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "allowed": self.allowed, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class DeadlineView:
    """An armed deadline of the case's current state visit."""

    id: int
    state: str
    event: str
    kind: DeadlineKind
    due_at: datetime
    status: DeadlineStatus
    calendar: str | None = None  # the business calendar its due time counts on

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "event": self.event,
            "kind": self.kind,
            "due_at": iso(self.due_at),
            "status": self.status,
            "calendar": self.calendar,
        }


@dataclass(frozen=True)
class Case:
    """One case as stored, plus (from ``status``) its deadlines and events for an actor."""

    id: str
    workflow: str
    version: int
    state: str
    data: dict[str, Any]
    metrics: dict[str, Any]  # name -> value
    metric_details: dict[str, Any]  # name -> {value, computed_at, calculator, params, fingerprint}
    created_by: str
    created_at: datetime
    updated_at: datetime
    entered_at: datetime
    closed: bool
    row_version: int
    assignee: str | None = None  # the team member it is assigned to (None: nobody)
    deadlines: list[DeadlineView] = field(default_factory=list)
    events: list[EventStatus] = field(default_factory=list)
    title: LocalizedText | None = None  # the workflow's, as written (text or per locale)
    incidents: list[Incident] = field(default_factory=list)  # unresolved (``status`` reads)

    @classmethod
    def deferred(cls, events: Callable[[], list[EventStatus]], **values: Any) -> Case:
        """A case whose ``events`` are computed on first access, by ``events()``.

        A fire returns the case with the events its actor may fire next; most callers never
        look at them. ``events`` must answer from a snapshot of the case as it is now.
        """
        if values.keys() == _ALL_BUT_EVENTS:  # the fire's case: no defaults to fill in
            case = object.__new__(cls)  # the frozen __init__ sets field by field: slower
            case.__dict__.update(values)
        else:
            case = cls(**values)
            object.__delattr__(case, "events")
        object.__setattr__(case, "_events", events)
        return case

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set: ``events`` of a deferred case, until computed.
        compute = self.__dict__.get("_events") if name == "events" else None
        if compute is None:
            raise AttributeError(f"'Case' object has no attribute '{name}'")
        events = compute()
        object.__setattr__(self, "events", events)
        object.__delattr__(self, "_events")
        return events

    def __getstate__(self) -> dict[str, Any]:  # pickle/copy: the computed events, no closure
        self.events  # noqa: B018 - computes deferred events
        return dict(self.__dict__)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workflow": self.workflow,
            "version": self.version,
            "state": self.state,
            "data": self.data,
            "metrics": self.metrics,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "entered_at": iso(self.entered_at),
            "closed": self.closed,
            "assignee": self.assignee,
            "deadlines": [d.to_json() for d in self.deadlines],
            "incidents": [i.to_json() for i in self.incidents],
            "events": [e.to_json() for e in self.events],
        }


_ALL_BUT_EVENTS = frozenset(f.name for f in fields(Case)) - {"events"}


class CaseList(list[Case]):
    """Cases as a listing found them, and the rows it could not read (one message each)."""

    unreadable: list[str]

    def __init__(self, cases: Iterable[Case] = ()) -> None:
        super().__init__(cases)
        self.unreadable = []


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of a case's tamper-evident history."""

    seq: int
    at: datetime
    actor: str
    event: str | None
    from_state: str | None
    to_state: str | None
    data_changes: dict[str, Any]
    comment: str | None
    kind: str  # start transition approval data metric denied timer migration
    hash: str
    prev_hash: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {
            "seq": self.seq,
            "at": iso(self.at),
            "actor": self.actor,
            "event": self.event,
            "from": self.from_state,
            "to": self.to_state,
            "data_changes": self.data_changes,
            "comment": self.comment,
            "kind": self.kind,
            "hash": self.hash,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Notice:
    """A notification written to the outbox by a step."""

    id: int
    channel: str
    to: str
    subject: str | None
    message: str
    event: str | None
    dedupe_key: str


@dataclass(frozen=True)
class FireResult:
    """The outcome of one fire: transitioned, approval_recorded, replayed or dry_run."""

    case: Case
    outcome: FireOutcomeName
    approvals: tuple[int, int] | None = None  # (have, need) when an approval was recorded
    would: dict[str, Any] | None = None  # dry run: {"to": STATE, "actions": [...]}
    from_state: str | None = None
    notices: list[Notice] = field(default_factory=list)

    @classmethod
    def of_fire(
        cls,
        case: Case,
        outcome: FireOutcomeName,
        approvals: tuple[int, int] | None,
        from_state: str,
        notices: list[Notice],
    ) -> FireResult:
        """The result of a fire that ran (``Engine.fire``'s every call): the same as
        ``FireResult(...)``, without the frozen ``__init__``'s field-by-field setting."""
        result = object.__new__(cls)
        result.__dict__.update(
            case=case,
            outcome=outcome,
            approvals=approvals,
            would=None,
            from_state=from_state,
            notices=notices,
        )
        return result

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.case.to_json(), "outcome": self.outcome}
        if self.approvals is not None:
            out["approvals"] = {"have": self.approvals[0], "need": self.approvals[1]}
        if self.would is not None:
            out["would"] = self.would
        return out


@dataclass(frozen=True)
class AuditProblem:
    """The first broken history entry of one case."""

    case: str
    seq: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "seq": self.seq, "reason": self.reason}


@dataclass(frozen=True)
class WorkflowSummary:
    """One row of ``opsflow workflows``."""

    id: str
    version: int
    title: LocalizedText | None  # as written: text, or a map of locale to text
    states: list[str]
    open_cases: int
    path: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "states": self.states,
            "open_cases": self.open_cases,
            "path": self.path,
        }


@dataclass(frozen=True)
class OutboxRow:
    """One notification in the outbox, as ``opsflow outbox`` shows it (secrets redacted)."""

    id: int
    case: str
    channel: str
    to: str
    subject: str | None
    message: str
    event: str | None
    dedupe_key: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.case,
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "message": self.message,
            "event": self.event,
            "dedupe_key": self.dedupe_key,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "next_attempt_at": iso(self.next_attempt_at) if self.next_attempt_at else None,
            "delivered_at": iso(self.delivered_at) if self.delivered_at else None,
        }


@dataclass
class WorkerReport:
    """What one worker pass did."""

    deadlines_fired: int = 0
    deadlines_skipped: int = 0
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    # failed automation (incidents): opened after a last try, retried, recovered; and how
    # many are open once the pass is done
    incidents_opened: int = 0
    automation_retried: int = 0
    automation_recovered: int = 0
    incidents_open: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "deadlines_fired": self.deadlines_fired,
            "deadlines_skipped": self.deadlines_skipped,
            "delivered": self.delivered,
            "failed": self.failed,
            "retried": self.retried,
            "incidents_opened": self.incidents_opened,
            "automation_retried": self.automation_retried,
            "automation_recovered": self.automation_recovered,
            "incidents_open": self.incidents_open,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class Incident:
    """Automation that failed: what, on which case, the error, and where it stands."""

    id: int
    kind: IncidentKind
    target: str
    workflow: str
    case_id: str | None
    state: str | None
    event: str | None
    actor: str
    error: str
    attempts: int
    status: IncidentStatus
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    closed_by: str | None = None
    comment: str | None = None
    tick: datetime | None = None
    closed_at: datetime | None = None

    @property
    def unresolved(self) -> bool:
        return self.status in ("retrying", "open")

    def describe(self) -> str:
        """What failed, in a few words: ``timer 'publish'``, ``compute ctr``, …"""
        if self.kind in ("timer", "sla"):
            return f"{self.kind} '{self.event}'"
        if self.kind == "schedule":
            return f"schedule tick {iso(self.tick) if self.tick else '?'}"
        if self.kind == "auto":
            return f"automatic transition '{self.target}'"
        if self.kind == "fire":
            return f"fire action '{self.target}'"
        return f"{self.kind} {self.target}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "workflow": self.workflow,
            "case": self.case_id,
            "state": self.state,
            "event": self.event,
            "actor": self.actor,
            "error": self.error,
            "attempts": self.attempts,
            "status": self.status,
            "next_attempt_at": iso(self.next_attempt_at) if self.next_attempt_at else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "closed_at": iso(self.closed_at) if self.closed_at else None,
            "closed_by": self.closed_by,
            "comment": self.comment,
            "tick": iso(self.tick) if self.tick else None,
        }
