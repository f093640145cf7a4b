"""The one unit of work: every change to a case goes through here, and what each of a
person's writes (start, fire, set, compute) does in it.

resolve → lock → pin → step → flush, in one write transaction; the whole of it is tried
again when the case moved underneath (its row version) or the database asked for it (a
serialization failure, a kept connection that died). Once it has committed, the
``after_transition`` hooks of the steps it flushed run. Writers (start, fire, set,
compute, migrate, the worker's deadlines, schedules and incident retries) hand it a
function of one :class:`CaseTransaction`; readers (status, dry runs, the inbox) use the
same loading and pinning, read-only. The functions at the end of this module are the
person's writes; the engine runs them with their retries.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from opsflow.clock import Clock
from opsflow.config import project_zone
from opsflow.core import preview
from opsflow.core import text as typed_text
from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.context import StepContext
from opsflow.core.hookviews import HookView, actor_view, transition_view
from opsflow.core.results import Case, FireResult, Notice
from opsflow.core.step import Step
from opsflow.core.working import WorkingCase
from opsflow.engine import access, autoassign, idempotency, persist
from opsflow.engine.definitions import Definitions
from opsflow.errors import (
    Conflict,
    NotFound,
    NotPermitted,
    OpsflowError,
    PreconditionFailed,
    Refused,
    SerializationFailure,
    StaleCase,
    StaleConnection,
)
from opsflow.store import Database

R = TypeVar("R")
RETRIES = 8  # attempts of one unit of work before Conflict (exit 6)
# What ends a whole step rather than one piece of its automation (Step.automation).
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    DBAPIError,
    StaleCase,
    SerializationFailure,
    StaleConnection,
)


class Workshop(Protocol):
    """What a unit of work needs from the engine around it."""

    @property
    def db(self) -> Database: ...

    @property
    def definitions(self) -> Definitions: ...

    @property
    def plugins(self) -> Any: ...

    clock: Clock
    settings: Any  # opsflow.config.Settings

    def roles_of(self, name: str) -> frozenset[str]: ...

    def is_admin(self, name: str) -> bool: ...


class CaseTransaction:
    """One attempt at a unit of work: a transaction, its clock reading and the steps it wrote.

    ``claimed`` is what a runner claimed in it (a deadline, a schedule tick, an incident),
    so that when the work fails the runner knows what to keep the failure against.
    """

    __slots__ = (
        "shop",
        "conn",
        "now",
        "writing",
        "before_hooks",
        "flushed",
        "claimed",
        "_expected",
    )

    def __init__(
        self,
        shop: Workshop,
        conn: Connection,
        now: datetime,
        *,
        writing: bool,
        before_hooks: bool | None = None,
    ) -> None:
        self.shop = shop
        self.conn = conn
        self.now = now
        self.writing = writing
        # Plugins' before_transition refusals: asked when writing and for a dry run's preview.
        self.before_hooks = writing if before_hooks is None else before_hooks
        self.flushed: list[Step] = []
        self.claimed: Any = None
        self._expected: dict[int, int | None] = {}  # id(step) -> row version read (None: new)

    # -- loading ----------------------------------------------------------------------

    def resolve(self, case_id: str) -> str:
        """The full id of a case given by its id or a unique prefix (NotFound, Usage)."""
        return persist.resolve_case_id(self.conn, case_id)

    def load(self, case_id: str) -> WorkingCase:
        """A case by its full id, row-locked when writing (where the database can)."""
        lock = self.writing and self.shop.db.row_locks
        return persist.load_case(self.conn, case_id, lock=lock)

    def pinned(self, case: WorkingCase) -> CompiledWorkflow:
        """The workflow version a case runs on."""
        return self.shop.definitions.pinned(self.conn, case.workflow, case.version)

    def open(self, case_id: str, *, resolve: bool = True, reader: str | None = None) -> Step:
        """A step on a case: resolved, loaded (locked when writing), on its pinned version.

        ``reader``: the person asking, answered NotFound when they may not read the case.
        """
        conn = self.conn
        full_id = persist.resolve_case_id(conn, case_id) if resolve else case_id
        case = persist.load_case(conn, full_id, lock=self.writing and self.shop.db.row_locks)
        try:
            wf = self.shop.definitions.pinned(conn, case.workflow, case.version)
        except OpsflowError:
            if reader is not None:  # an unreadable case stays one, even with a broken version
                self.readable(case, reader, case_id)
            raise
        if reader is not None:
            self.readable(case, reader, case_id, wf)
        step = Step(wf, case, self.context())
        self._expected[id(step)] = case.row_version
        return step

    def readable(
        self, case: WorkingCase, actor: str, asked: str, wf: CompiledWorkflow | None = None
    ) -> None:
        """NotFound, exactly as for a missing case, when ``actor`` may not read ``case``
        (``wf``: its pinned version, when already at hand)."""
        access.check_readable(self.shop, self.conn, actor, case, asked=asked, pinned=wf)

    def step_on(self, wf: CompiledWorkflow, case: WorkingCase) -> Step:
        """A step on a loaded case, run on ``wf`` (its pinned version, or a migration's)."""
        step = Step(wf, case, self.context())
        self._expected[id(step)] = case.row_version
        return step

    def context(self) -> StepContext:
        """What a step on this transaction needs: roles, plugins, sources, approvals, turns."""
        settings, plugins = self.shop.settings, self.shop.plugins
        return StepContext(
            now=self.now,
            team=settings.team,
            functions=plugins.functions,
            **autoassign.step_parts(self),
            plugins=plugins,
            sources=settings.sources,
            base_dir=settings.base_dir,
            before_hooks=self.before_hooks,
            fatal=DATABASE_ERRORS,
            zone=project_zone(settings),
        )

    # -- writing ----------------------------------------------------------------------

    def start(
        self,
        wf: CompiledWorkflow,
        data: dict[str, Any],
        actor: str,
        case_id: str | None = None,
        comment: str | None = None,
    ) -> Step:
        """A new case of ``wf`` in its initial state, its start run and its rows written."""
        self.shop.definitions.register(self.conn, wf, self.now)
        case = _new_case(wf, actor, self.now, case_id)
        step = Step(wf, case, self.context())
        self._expected[id(step)] = None
        step.start(data, step.actor(actor), comment)
        self.flush(step)
        return step

    def flush(self, step: Step, *, touch: bool = True) -> list[dict[str, Any]]:
        """Write what ``step`` produced, checking the row version read when it was opened.

        ``touch=False`` keeps the row version and ``updated_at`` (entries that change
        nothing on the case: a refusal, an incident note).
        """
        assert self.writing, "a read-only transaction flushed a step"
        expected = self._expected[id(step)]
        rows = persist.flush(
            self.conn,
            step.wf,
            step.case,
            step.writes,
            new=expected is None,
            expected_version=expected or 0,
            now=self.now,
            touch=touch,
            calendars=getattr(self.shop.settings, "calendars", None),
            zone=project_zone(self.shop.settings),
        )
        self.flushed.append(step)
        return rows

    def note(self, case_id: str, record: Callable[[Step], None]) -> None:
        """Append what ``record`` writes to a case's history; the case stays as it was."""
        step = self.open(case_id, resolve=False)
        record(step)
        self.flush(step, touch=False)

    # -- showing ----------------------------------------------------------------------

    def view(self, step: Step, actor: str) -> Case:
        """The case of a step as people see it: with its deadlines and events for ``actor``.

        The events are computed when first read, unless deciding them needs the database
        (approvals in the current state): the step is not changed after this.
        """
        wf, case = step.wf, step.case
        events: Any
        if case.closed or case.state in wf.approval_states:
            events = preview.event_statuses(step, actor)
        else:
            events = partial(preview.event_statuses, step, actor)
        deadlines = persist.pending_deadlines(self.conn, wf, case)
        return case.view(wf.spec.title, deadlines=deadlines, events=events)


@dataclass(slots=True)
class UnitOfWork(Generic[R]):
    """A unit of work with its retries. ``last`` is its last attempt, committed or not."""

    shop: Workshop
    on_hook_error: Callable[[Step, Exception], None] | None = None
    last: CaseTransaction | None = field(default=None, init=False)

    @property
    def claimed(self) -> Any:
        """What the last attempt claimed before it failed or committed (None: nothing)."""
        return self.last.claimed if self.last is not None else None

    def run(self, work: Callable[[CaseTransaction], R]) -> R:
        """Run ``work`` in a write transaction, again when the case moved; then the hooks."""
        delay = 0.005
        for attempt in range(RETRIES):
            self.last = None
            try:
                with self.shop.db.write() as conn:
                    tx = self.last = CaseTransaction(
                        self.shop, conn, self.shop.clock(), writing=True
                    )
                    result = work(tx)
            except StaleCase:
                pass
            except StaleConnection:  # a kept connection had died while idle: go again at once
                continue
            except IntegrityError as exc:
                if attempt == RETRIES - 1:
                    raise Conflict(f"conflicting write: {exc.orig}") from exc
            except SerializationFailure:  # PostgreSQL rolled it back (40001, 40P01): again
                pass
            else:
                self._observe(tx.flushed)
                return result
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        raise Conflict(
            f"the case kept changing underneath; gave up after {RETRIES} attempts",
            ["another process is firing on the same case; try again"],
        )

    def _observe(self, steps: list[Step]) -> None:
        if not steps or not self.shop.plugins.has_after_transition:
            return
        for step in steps:
            try:
                observe(self.shop.plugins, step)
            except Exception as exc:
                if self.on_hook_error is None:
                    raise
                self.on_hook_error(step, exc)  # the step is committed: a hook cannot undo it


def transact(
    shop: Workshop,
    work: Callable[[CaseTransaction], R],
    on_hook_error: Callable[[Step, Exception], None] | None = None,
) -> R:
    """Run ``work`` as one unit of work: retried when the case moved, then the hooks."""
    tries: UnitOfWork[R] = UnitOfWork(shop, on_hook_error)
    return tries.run(work)


def read(shop: Workshop, work: Callable[[CaseTransaction], R], *, before_hooks: bool = False) -> R:
    """Run ``work`` on a read-only transaction: no locks, no flush.

    ``before_hooks`` asks plugins' ``before_transition`` too (a dry run's preview).
    """
    with shop.db.read() as conn:
        tx = CaseTransaction(shop, conn, shop.clock(), writing=False, before_hooks=before_hooks)
        return work(tx)


def _new_case(wf: CompiledWorkflow, actor: str, now: datetime, case_id: str | None) -> WorkingCase:
    """A case of ``wf`` not yet started: in its initial state, with nothing written."""
    return WorkingCase(
        id=case_id or uuid.uuid4().hex,
        workflow=wf.id,
        version=wf.version,
        state=wf.initial,
        data={},
        metrics={},
        actors={},
        rules={},
        created_by=actor,
        created_at=now,
        updated_at=now,
        entered_at=now,
        visit=1,
        closed=wf.initial in wf.finals,
        row_version=0,
        seq=0,
        last_hash="",
    )


def observe(plugins: Any, step: Step) -> None:
    """The ``after_transition`` hooks of a committed step, one call per transition taken."""
    if not step.transitions_taken or not plugins.has_after_transition:
        return
    case = HookView(step.case.view().to_json())
    for transition, actor, entry in step.transitions_taken:
        plugins.after_transition(
            case=case,
            transition=transition_view(transition.spec, entry["from_state"]),
            actor=actor_view(actor.name, actor.roles),
            entry=HookView(persist.entry_payload(entry) | {"hash": entry.get("hash")}),
        )


# -- a person's writes, each inside one CaseTransaction --------------------------------


@dataclass(slots=True)
class FireRequest:
    """One person's fire, as asked: what a key's repeat must match."""

    case_id: str
    event: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    key: str | None = None
    text: dict[str, str] | None = None
    expected_version: int | None = None  # If-Match: the row version the caller last read

    def keyed(self, full_id: str) -> dict[str, Any]:
        """What a key remembers (only a keyed fire needs it)."""
        if self.key is None:
            return {}
        request = {
            "case": full_id,
            "event": self.event,
            "data": self.data,
            "comment": self.comment,
            "actor": self.actor,
        }
        if self.text:
            request["text"] = self.text
        return request


@dataclass(frozen=True)
class Denied:
    """A fire the decision refused: its ``denied`` entry is committed, then it is raised."""

    refusal: NotPermitted | Refused


def check_version(case: WorkingCase, expected: int | None) -> None:
    """Refuse a write whose caller read another version of the case (a stale If-Match).

    Called inside the step's transaction, once the case row is loaded (and locked where
    the database can): a mismatch raises before anything is written, denied entry included.
    """
    if expected is not None and case.row_version != expected:
        raise PreconditionFailed(
            f"case {case.id} is at version {case.row_version}, not {expected}",
            ["the case changed since you read it: read it again (its ETag) and retry"],
        )


def replayed(tx: CaseTransaction, key: str, operation: str, request: dict[str, Any]) -> Any:
    """The first result of ``key`` for ``operation`` (None: the key is new).

    Looked up after the case row is locked: a repeat that waited for the first sees its key.
    """
    return idempotency.first_result(tx.conn, key, operation, request)


def remember(
    tx: CaseTransaction,
    key: str | None,
    operation: str,
    request: dict[str, Any],
    case: Case,
    response: dict[str, Any],
) -> None:
    """Keep a keyed write's answer (``body``: its JSON, ``etag``), so a repeat returns it."""
    if key is not None:
        answer = response | {"etag": case.row_version}
        idempotency.remember(tx.conn, key, operation, request, case.id, answer, tx.now)


def start_case(
    tx: CaseTransaction,
    wf: CompiledWorkflow,
    actor: str,
    data: Mapping[str, Any] | None,
    text: Mapping[str, str] | None,
    key: str | None,
    comment: str | None = None,
) -> Case:
    """Start a case of ``wf`` (or replay the first start of ``key``)."""
    request: dict[str, Any] = {"workflow": wf.id, "data": dict(data or {}), "actor": actor}
    if text:
        request["text"] = dict(text)
    if comment:
        request["comment"] = comment
    if key is not None:
        replay = idempotency.first_result(tx.conn, key, "start", request)
        if replay is not None:
            return tx.load(replay[0]).view()
    values = typed_text.merged(data, wf.id, wf.fields, text)
    step = tx.start(wf, dict(values or {}), actor, comment=comment)
    case = tx.view(step, actor)
    if key is not None:
        remember(tx, key, "start", request, case, {"outcome": "started", "body": case.to_json()})
    return case


def fire_event(tx: CaseTransaction, request: FireRequest) -> FireResult | Denied:
    """Fire an event on a case; a refusal is audited as ``denied`` and returned, not raised."""
    full_id = tx.resolve(request.case_id)
    # Loaded (the row locked) before the key is looked up: a fire with the same key that
    # held the lock before us has committed its key by now. A replay needs no definition.
    case = tx.load(full_id)
    tx.readable(case, request.actor, request.case_id)  # before anything, a denied entry too
    keyed: dict[str, Any] = {}
    if request.key is not None:
        keyed = request.keyed(full_id)
        replay = idempotency.first_result(tx.conn, request.key, "fire", keyed)
        if replay is not None:
            approvals = replay[1].get("approvals")
            return FireResult(
                case=case.view(),
                outcome="replayed",
                approvals=tuple(approvals) if approvals else None,
            )
    check_version(case, request.expected_version)  # after a replay: a repeat's If-Match is old
    step = tx.step_on(tx.pinned(case), case)
    text = request.text
    values = (
        typed_text.merged(request.data, step.wf.id, step.wf.fields, text) if text else request.data
    )
    source = case.state
    try:
        outcome = step.fire(request.event, step.actor(request.actor), values, request.comment)
    except (NotPermitted, Refused) as refusal:  # the decision said no: audit it
        return _deny(tx, full_id, request, refusal, source)
    tx.flush(step)
    recorded = outcome.outcome == "approval_recorded"
    result = FireResult.of_fire(
        tx.view(step, request.actor),
        outcome.outcome,
        outcome.approvals if recorded else None,
        source,
        _notices(step) if step.writes.outbox else [],
    )
    if request.key is not None:
        response: dict[str, Any] = {"outcome": outcome.outcome, "body": result.to_json()}
        if recorded:
            response["approvals"] = list(outcome.approvals or ())
        remember(tx, request.key, "fire", keyed, result.case, response)
    return result


def _deny(
    tx: CaseTransaction,
    case_id: str,
    request: FireRequest,
    refusal: NotPermitted | Refused,
    state: str,
) -> Denied:
    """Write the ``denied`` entry of a refused fire on a fresh copy of the case.

    Only the history grows: the case's state, data, row version and ``updated_at`` stay.
    """
    tx.note(
        case_id, lambda fresh: fresh.record_denial(request.actor, request.event, refusal, state)
    )
    return Denied(refusal)


def preview_fire(tx: CaseTransaction, request: FireRequest) -> FireResult:
    """What a fire would do, decided exactly as the fire decides it; nothing is written."""
    step = tx.open(request.case_id, reader=request.actor)
    values = typed_text.merged(request.data, step.wf.id, step.wf.fields, request.text)
    view = tx.view(step, request.actor)
    probe = Step(step.wf, step.case.fork(), step.ctx)  # the view's step stays unchanged
    return preview.dry_run(probe, request.event, probe.actor(request.actor), values or {}, view)


def set_data(
    tx: CaseTransaction,
    case_id: str,
    actor: str,
    data: Mapping[str, Any] | None,
    text: Mapping[str, str] | None,
    comment: str | None,
    key: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """Change a case's data as ``actor`` (a ``data`` entry); rules and auto transitions run.

    With ``key``, a repeat returns the case as it is (the first change is not made again).
    """
    step = tx.open(case_id, reader=actor)
    request: dict[str, Any] = {"case": step.case.id, "data": dict(data or {}), "actor": actor}
    request |= {"text": dict(text or {}), "comment": comment}
    if key is not None and replayed(tx, key, "set", request) is not None:
        return tx.view(step, actor)
    check_version(step.case, expected_version)
    values = typed_text.merged(data, step.wf.id, step.wf.fields, text)  # bad text: 65 first
    step.change_data(values or {}, actor, comment)
    tx.flush(step)
    case = tx.view(step, actor)
    remember(tx, key, "set", request, case, {"outcome": "changed", "body": case.to_json()})
    return case


def compute_metrics(
    tx: CaseTransaction, case_id: str, actor: str, metrics: Sequence[str] | None
) -> tuple[Case, dict[str, Any]]:
    """Run calculators now; each result is stored on the case and in its history."""
    step = tx.open(case_id, reader=actor)
    wf = step.wf
    names = list(metrics) if metrics else list(wf.metrics)
    unknown = [m for m in names if m not in wf.metrics]
    if unknown:
        raise NotFound(
            f"workflow '{wf.id}' has no metric {', '.join(repr(m) for m in unknown)}",
            [f"metrics: {', '.join(wf.metrics) or 'none'}"],
        )
    results = step.compute(names, step.actor(actor))
    step.settle()
    tx.flush(step)
    return tx.view(step, actor), results


def _notices(step: Step) -> list[Notice]:
    """The notifications a step queued, as a fire's result lists them."""
    return [
        Notice(
            id=0,
            channel=o["channel"],
            to=o["recipient"],
            subject=o["subject"],
            message=o["message"],
            event=o["event"],
            dedupe_key=o["dedupe_key"],
        )
        for o in step.writes.outbox
    ]
