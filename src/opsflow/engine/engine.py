"""The ``Engine``: the library API the CLI, the scenario runner and a service share (SPEC §3.2)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from opsflow.clock import Clock, system_now
from opsflow.core import preview
from opsflow.core import text as typed_text
from opsflow.core.compiled import CompiledWorkflow
from opsflow.core.decide import SYSTEM, Actor
from opsflow.core.hookviews import HookView, actor_view, transition_view
from opsflow.core.results import (
    AuditProblem,
    Case,
    CaseList,
    EventStatus,
    FireResult,
    HistoryEntry,
    Incident,
    Notice,
    OutboxRow,
    WorkerReport,
    WorkflowSummary,
)
from opsflow.core.step import Step, StepContext
from opsflow.core.working import WorkingCase
from opsflow.engine import idempotency, incidents, persist
from opsflow.engine.definitions import Definitions
from opsflow.errors import (
    Busy,
    Conflict,
    NotFound,
    NotPermitted,
    OpsflowError,
    Refused,
    SerializationFailure,
    StaleConnection,
    Usage,
)
from opsflow.language.diagnostics import Diagnostic
from opsflow.language.loader import LoadContext, load_workflow_paths, team_context
from opsflow.language.models import WorkflowSpec
from opsflow.store import Database
from opsflow.store import tables as t

if TYPE_CHECKING:
    from opsflow.engine.digest import Digest
    from opsflow.runners.migrate import MigrationReport  # imported by Engine.migrate

MAX_NAME = 200  # actors and idempotency keys, as the database columns hold them
# What ends a whole step rather than one piece of its automation (Step.automation).
_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    DBAPIError,
    persist.StaleCase,
    SerializationFailure,
    StaleConnection,
)
RETRIES = 8  # optimistic retries of one step before Conflict (exit 6)


class Engine:
    """Runs the cases of a project's workflows on one database."""

    def __init__(
        self,
        *,
        db: str | None = None,
        workflows: Path | str | None = None,
        team: Mapping[str, Sequence[str]] | None = None,
        settings: Any = None,
        plugins: Any = None,
        clock: Clock | None = None,
    ) -> None:
        from opsflow.config import load_settings

        if settings is None:  # explicit construction reads no file: see ``from_config``
            settings = load_settings(
                db=db, workflows=str(workflows) if workflows else None, read_config=False
            )
            if team is not None:
                settings.team = {k: list(v) for k, v in team.items()}
        else:
            if db is not None:
                settings.db_url = db
            if workflows is not None:
                settings.workflows_dir = Path(workflows)
            if team is not None:
                settings.team = {k: list(v) for k, v in team.items()}
        self.settings = settings
        self._plugins = plugins
        self.clock: Clock = clock or system_now
        self._db: Database | None = None
        self._definitions: Definitions | None = None

    @classmethod
    def from_config(cls, path: str | Path | None = None, **overrides: Any) -> Engine:
        """An engine for the project described by ``opsflow.yaml`` (or the defaults)."""
        from opsflow.config import load_settings

        def text(name: str) -> str | None:
            value = overrides.get(name)
            return None if value is None else str(value)

        settings = load_settings(
            config=str(path) if path else None,
            db=text("db"),
            workflows=text("workflows"),
            actor=text("actor"),
            plugins_dir=text("plugins_dir"),
        )
        return cls(
            settings=settings,
            team=overrides.get("team"),
            plugins=overrides.get("plugins"),
            clock=overrides.get("clock"),
        )

    # -- parts ---------------------------------------------------------------------

    @property
    def plugins(self) -> Any:
        if self._plugins is None:
            from opsflow.plugins import load_plugins

            s = self.settings
            self._plugins = load_plugins(
                plugins_dir=s.plugins_dir, allow=s.plugins_allow, strict=s.plugins_strict
            )
        return self._plugins

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.db_url)
        return self._db

    def load_context(self) -> LoadContext:
        channels = getattr(self.settings, "channels_configured", None)
        if channels is None:
            channels = bool(self.settings.channels)
        return LoadContext(
            calculators=frozenset(self.plugins.calculators),
            channels=frozenset(self.settings.channels) if channels else None,
            functions=frozenset(self.plugins.functions),
            sources=frozenset(self.settings.sources),
            team=team_context(self.settings.team),
            params_models=tuple(
                (name, c.params_model)
                for name, c in sorted(self.plugins.calculators.items())
                if c.params_model is not None
            ),
        )

    @property
    def definitions(self) -> Definitions:
        if self._definitions is None:
            self._definitions = Definitions(Path(self.settings.workflows_dir), self.load_context())
        return self._definitions

    def roles_of(self, name: str) -> frozenset[str]:
        return frozenset(self.settings.team.get(name, ()))

    def _actor_name(self, actor: str | None) -> str:
        name = actor or self.settings.actor
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise Usage(f"an actor name is 1 to {MAX_NAME} printable characters, got {name[:40]!r}")
        return name

    def _member(self, actor: str | None) -> str:
        """The name of a person who may change cases: a team member when a team is set."""
        name = self._actor_name(actor)
        if name == SYSTEM:
            raise NotPermitted(
                f"'{SYSTEM}' is reserved for opsflow itself (timers and automatic steps)",
                ["act under your own name (--as NAME)"],
            )
        team = self.settings.team
        if team and name not in team:
            raise NotPermitted(
                f"'{name}' is not in this project's team",
                ["only the people listed under 'team:' in opsflow.yaml may change cases"],
            )
        return name

    def _ctx(self, conn: Connection, now: datetime, before_hooks: bool = True) -> StepContext:
        return StepContext(
            now=now,
            roles_of=self.roles_of,
            functions=self.plugins.functions,
            approvals_of=lambda case, visit, event: persist.approvals_of(conn, case, visit, event),
            plugins=self.plugins,
            sources=self.settings.sources,
            base_dir=self.settings.base_dir,
            before_hooks=before_hooks,
            fatal=_DATABASE_ERRORS,
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()

    # -- transactions with retries ---------------------------------------------------

    def _reading(self) -> AbstractContextManager[Connection]:
        return self.db.read()

    def _retrying(self, work: Callable[[Connection], Any]) -> Any:
        """Run ``work`` in a write transaction; retry when the case moved underneath."""
        delay = 0.005
        for attempt in range(RETRIES):
            try:
                with self.db.write() as conn:
                    return work(conn)
            except persist.StaleCase:
                pass
            except StaleConnection:  # a kept connection had died while idle: go again at once
                continue
            except IntegrityError as exc:
                if attempt == RETRIES - 1:
                    raise Conflict(f"conflicting write: {exc.orig}") from exc
            except SerializationFailure:  # PostgreSQL rolled it back (40001, 40P01): again
                pass
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        raise Conflict(
            f"the case kept changing underneath; gave up after {RETRIES} attempts",
            ["another process is firing on the same case; try again"],
        )

    def _start_case(
        self,
        conn: Connection,
        wf: CompiledWorkflow,
        data: Mapping[str, Any],
        actor: str,
        now: datetime,
        case_id: str | None = None,
    ) -> Step:
        """Register ``wf``, create a case in its initial state, run its start and write it."""
        self.definitions.register(conn, wf, now)
        case = WorkingCase(
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
        step = Step(wf, case, self._ctx(conn, now))
        step.start(data, step.actor(actor))
        self._commit_step(conn, step, new=True, expected=0, now=now)
        return step

    def _prepare(self, case_id: str) -> None:
        """Load plugins and the case's definition before taking the write lock.

        A fresh process (one CLI command) would otherwise import and compile while holding
        SQLite's write lock, and concurrent writers would queue behind that work.
        """
        _ = self.plugins
        if self.definitions.has_pinned():  # a long-running process is already warm
            return
        with self._reading() as conn:
            try:
                case = persist.load_case(conn, persist.resolve_case_id(conn, case_id))
                self._pinned(conn, case)
            except OpsflowError:
                return  # the step itself reports it, in its own transaction

    def _pinned(self, conn: Connection, case: WorkingCase) -> CompiledWorkflow:
        return self.definitions.pinned(conn, case.workflow, case.version)

    def _commit_step(
        self, conn: Connection, step: Step, *, new: bool, expected: int, now: datetime
    ) -> list[dict[str, Any]]:
        return persist.flush(
            conn, step.wf, step.case, step.writes, new=new, expected_version=expected, now=now
        )

    def _observe(self, step: Step) -> None:
        """after_transition hooks, called once the step has committed."""
        if not step.transitions_taken or not self.plugins.has_after_transition:
            return
        case = HookView(step.case.view().to_json())
        for transition, actor, entry in step.transitions_taken:
            self.plugins.after_transition(
                case=case,
                transition=transition_view(transition.spec, entry["from_state"]),
                actor=actor_view(actor.name, actor.roles),
                entry=HookView(persist.entry_payload(entry) | {"hash": entry.get("hash")}),
            )

    # -- the API ---------------------------------------------------------------------

    def start(
        self,
        workflow: str,
        data: Mapping[str, Any] | None = None,
        actor: str | None = None,
        key: str | None = None,
        text: Mapping[str, str] | None = None,
    ) -> Case:
        """Start a case of ``workflow`` (its current version) and return it.

        ``text`` holds values as a person typed them (``--set``, a form), parsed by the
        fields' declared types; they win over ``data``. A key's request is the text as given.
        """
        name = self._member(actor)
        wf = self.definitions.current(workflow)
        request = {"workflow": workflow, "data": dict(data or {}), "actor": name}
        if text:
            request["text"] = dict(text)
        holder: dict[str, Step] = {}

        def work(conn: Connection) -> Case:
            replay = idempotency.first_result(conn, key, "start", request)
            if replay is not None:
                return self._case(conn, replay[0])
            values = typed_text.merged(data, wf.id, wf.fields, text)
            now = self.clock()
            step = self._start_case(conn, wf, values or {}, name, now)
            case = step.case
            idempotency.remember(conn, key, "start", request, case.id, {"outcome": "started"}, now)
            holder["step"] = step
            return self._view(conn, step, name)

        result = self._retrying(work)
        if "step" in holder:
            self._observe(holder["step"])
        return result

    def fire(
        self,
        case_id: str,
        event: str,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
        comment: str | None = None,
        key: str | None = None,
        dry_run: bool = False,
        text: Mapping[str, str] | None = None,
    ) -> FireResult:
        """Fire ``event`` on a case as ``actor``; raises NotPermitted/Refused/… when it cannot.

        A refusal (not a dry run's) is recorded in the case's history as ``denied``.
        ``text`` is parsed by the case's pinned field types in the step (see ``start``).
        """
        name = self._actor_name(actor)
        if dry_run:
            with self._reading() as conn:
                full_id = persist.resolve_case_id(conn, case_id)
                case = persist.load_case(conn, full_id)
                step = Step(self._pinned(conn, case), case, self._ctx(conn, self.clock()))
                values = typed_text.merged(data, step.wf.id, step.wf.fields, text)
                view = self._view(conn, step, name)
                probe = Step(step.wf, case.fork(), step.ctx)  # the view's step stays unchanged
                return preview.dry_run(probe, event, probe.actor(name), values or {}, view)
        holder: dict[str, Any] = {}

        def work(conn: Connection) -> FireResult:
            full_id = persist.resolve_case_id(conn, case_id)
            request: dict[str, Any] = {}  # only a keyed fire needs it
            if key is not None:
                request = {
                    "case": full_id,
                    "event": event,
                    "data": dict(data or {}),
                    "comment": comment,
                    "actor": name,
                }
                if text:
                    request["text"] = dict(text)
            # Looked up once the row is locked: a fire with the same key that held the
            # lock before us has committed its key by now.
            case = persist.load_case(conn, full_id, lock=self.db.row_locks)
            replay = idempotency.first_result(conn, key, "fire", request)
            if replay is not None:
                approvals = replay[1].get("approvals")
                return FireResult(
                    case=self._case(conn, full_id),
                    outcome="replayed",
                    approvals=tuple(approvals) if approvals else None,
                )
            now = self.clock()
            expected = case.row_version
            wf = self._pinned(conn, case)
            values = typed_text.merged(data, wf.id, wf.fields, text) if text else data
            step = Step(wf, case, self._ctx(conn, now))
            source = case.state
            try:
                outcome = step.fire(event, step.actor(name), values, comment)
            except (NotPermitted, Refused) as refusal:  # the decision said no: audit it
                holder["refused"] = (refusal, source)
                raise
            self._commit_step(conn, step, new=False, expected=expected, now=now)
            response: dict[str, Any] = {"outcome": outcome.outcome}
            if outcome.outcome == "approval_recorded":
                response["approvals"] = list(outcome.approvals or ())
            idempotency.remember(conn, key, "fire", request, full_id, response, now)
            holder["step"] = step
            notices = [
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
            return FireResult.of_fire(
                self._view(conn, step, name),
                outcome.outcome,
                outcome.approvals if outcome.outcome == "approval_recorded" else None,
                source,
                notices,
            )

        self._member(name)  # a stranger is refused before anything, and writes nothing
        try:
            self._prepare(case_id)
            result = self._retrying(work)
        except (NotPermitted, Refused):
            if "refused" in holder:
                refusal, state = holder["refused"]
                self._audit_denial(case_id, name, event, refusal, state)
            raise
        if "step" in holder:
            self._observe(holder["step"])
        return result

    def _audit_denial(
        self, case_id: str, actor: str, event: str, refusal: OpsflowError, state: str
    ) -> None:
        """Write the ``denied`` entry of a refused fire (the refused step itself is gone).

        Only the history grows: the case's state, data, row version and ``updated_at`` stay.
        """

        def work(conn: Connection) -> None:
            full_id = persist.resolve_case_id(conn, case_id)
            self.write_note(conn, full_id, lambda s: s.record_denial(actor, event, refusal, state))

        with contextlib.suppress(NotFound):  # no such case: no history to write to
            self._retrying(work)

    def write_note(self, conn: Connection, case_id: str, record: Callable[[Step], None]) -> None:
        """Append what ``record`` writes to a case's history, leaving the case as it was.

        For entries that change nothing (a refusal, an incident retried or resolved): the
        case's row version (its ETag) and ``updated_at`` stay.
        """
        now = self.clock()
        case = persist.load_case(conn, case_id, lock=self.db.row_locks)
        expected = case.row_version
        step = Step(self._pinned(conn, case), case, self._ctx(conn, now))
        record(step)
        persist.flush(
            conn,
            step.wf,
            case,
            step.writes,
            new=False,
            expected_version=expected,
            now=now,
            touch=False,
        )

    def set(
        self,
        case_id: str,
        data: Mapping[str, Any] | None = None,
        actor: str | None = None,
        comment: str | None = None,
        text: Mapping[str, str] | None = None,
    ) -> Case:
        """Change a case's data (audited as a ``data`` entry); rules and auto transitions run.

        ``text`` is parsed by the case's pinned field types in the step (see ``start``).
        """
        name = self._member(actor)

        def work(conn: Connection) -> Case:
            full_id = persist.resolve_case_id(conn, case_id)
            now = self.clock()
            case = persist.load_case(conn, full_id, lock=self.db.row_locks)
            expected = case.row_version
            wf = self._pinned(conn, case)
            values = typed_text.merged(data, wf.id, wf.fields, text)  # bad text: 65 first
            step = Step(wf, case, self._ctx(conn, now))
            step.change_data(values or {}, name, comment)
            self._commit_step(conn, step, new=False, expected=expected, now=now)
            return self._view(conn, step, name)

        self._prepare(case_id)
        return self._retrying(work)

    def compute(
        self, case_id: str, metrics: Sequence[str] | None = None, actor: str | None = None
    ) -> tuple[Case, dict[str, Any]]:
        """Run calculators now; results are stored on the case and in its history."""
        name = self._member(actor)

        def work(conn: Connection) -> tuple[Case, dict[str, Any]]:
            full_id = persist.resolve_case_id(conn, case_id)
            now = self.clock()
            case = persist.load_case(conn, full_id, lock=self.db.row_locks)
            expected = case.row_version
            wf = self._pinned(conn, case)
            names = list(metrics) if metrics else list(wf.metrics)
            unknown = [m for m in names if m not in wf.metrics]
            if unknown:
                raise NotFound(
                    f"workflow '{wf.id}' has no metric {', '.join(repr(m) for m in unknown)}",
                    [f"metrics: {', '.join(wf.metrics) or 'none'}"],
                )
            step = Step(wf, case, self._ctx(conn, now))
            results = step.compute(names, step.actor(name))
            step.settle()
            self._commit_step(conn, step, new=False, expected=expected, now=now)
            return self._view(conn, step, name), results

        self._prepare(case_id)
        return self._retrying(work)

    # -- reading ---------------------------------------------------------------------

    def _case(self, conn: Connection, case_id: str) -> Case:
        case = persist.load_case(conn, case_id)
        return case.view()

    def get(self, case_id: str) -> Case:
        """A case as stored."""
        with self._reading() as conn:
            return self._case(conn, persist.resolve_case_id(conn, case_id))

    def status(self, case_id: str, actor: str | None = None) -> Case:
        """The case with its pending deadlines and, per event, whether ``actor`` may fire it."""
        name = self._actor_name(actor)
        with self._reading() as conn:
            full_id = persist.resolve_case_id(conn, case_id)
            case = persist.load_case(conn, full_id)
            wf = self._pinned(conn, case)
            found = self._view(conn, Step(wf, case, self._ctx(conn, self.clock(), False)), name)
            unresolved = incidents.listing(conn, case_id=full_id)
            return replace(found, incidents=unresolved) if unresolved else found

    def _view(self, conn: Connection, step: Step, name: str) -> Case:
        """The case of a step as SPEC §3 shows it: with its deadlines and events for ``name``.

        The events are computed when first read, unless deciding them needs the database
        (approvals in the current state): ``step`` is not changed after this, so they are
        those of the case as it is now.
        """
        wf, case = step.wf, step.case
        events: Any
        if case.closed or case.state in wf.approval_states:
            events = preview.event_statuses(step, name)
        else:
            events = partial(preview.event_statuses, step, name)
        return case.view(
            wf.spec.title, deadlines=persist.pending_deadlines(conn, wf, case), events=events
        )

    def _statuses(
        self, conn: Connection, wf: CompiledWorkflow, case: WorkingCase, name: str
    ) -> list[EventStatus]:
        return preview.event_statuses(Step(wf, case, self._ctx(conn, self.clock(), False)), name)

    def history(self, case_id: str) -> list[HistoryEntry]:
        """The case's audit trail, oldest first."""
        with self._reading() as conn:
            full_id = persist.resolve_case_id(conn, case_id)
            entries = persist.history_of(conn, full_id)
            if not entries:
                persist.load_case(conn, full_id)  # NotFound for a case that does not exist
            return entries

    def cases(
        self,
        workflow: str | None = None,
        state: str | None = None,
        open: bool | None = None,
        limit: int | None = None,
    ) -> CaseList:
        """Cases, newest first, filtered by workflow, state and open/closed; deadlines included.

        A case whose row cannot be read is left out and named in ``unreadable``.
        """
        query = select(t.cases)
        if workflow:
            query = query.where(t.cases.c.workflow == workflow)
        if state:
            query = query.where(t.cases.c.state == state)
        if open is not None:
            query = query.where(t.cases.c.closed.is_(not open))
        query = query.order_by(t.cases.c.created_at.desc(), t.cases.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            rows, damaged = persist.readable_cases(conn, query)
            ids = query.with_only_columns(t.cases.c.id)
            deadlines = persist.pending_deadlines_by_case(conn, ids) if rows else {}
        found = CaseList(r.view(deadlines=deadlines.get(r.id, [])) for r in rows)
        found.unreadable = [str(d) for d in damaged]
        if workflow and not found and not damaged and workflow not in self.definitions.ids():
            raise NotFound(f"no workflow '{workflow}'")
        return found

    def inbox(self, actor: str | None = None, limit: int | None = None) -> CaseList:
        """Open cases where ``actor`` can fire an event now.

        Events that only a deadline is meant to fire (they name no roles) are left out.
        A case whose row cannot be read is left out and named in ``unreadable``.
        """
        name = self._actor_name(actor)
        found = CaseList()
        with self._reading() as conn:
            rows, damaged = persist.readable_cases(
                conn,
                select(t.cases)
                .where(t.cases.c.closed.is_(False))
                .order_by(t.cases.c.updated_at.desc()),
            )
            found.unreadable = [str(d) for d in damaged]
            for case in rows:
                wf = self._pinned(conn, case)
                # A deadline's event open to anyone is the worker's job, not an inbox item.
                timed = {
                    d.event
                    for d in wf.deadlines.get(case.state, ())
                    if not any(t.roles for t in wf.candidates(case.state, d.event))
                }
                events = [
                    e
                    for e in preview.event_statuses(
                        Step(wf, case, self._ctx(conn, self.clock(), False)), name
                    )
                    if e.allowed and e.event not in timed
                ]
                if events:
                    found.append(Case(**{**case.view(wf.spec.title).__dict__, "events": events}))
                    if limit is not None and len(found) >= limit:
                        break
        return found

    def workflows(self) -> list[WorkflowSummary]:
        """The workflows of the workflows folder with their open cases."""
        with self._reading() as conn:
            counts = persist.open_counts(conn)
        out = []
        for wid in self.definitions.ids():
            loaded = self.definitions.loaded(wid)
            spec = loaded.spec
            out.append(
                WorkflowSummary(
                    id=wid,
                    version=spec.version,
                    title=spec.title,
                    states=list(spec.states),
                    open_cases=counts.get(wid, 0),
                    path=loaded.path,
                )
            )
        return out

    def workflow_spec(self, workflow: str, version: int | None = None) -> WorkflowSpec:
        """A workflow's definition: the current file, or a registered version."""
        if version is None:
            return self.definitions.current(workflow).spec
        with self._reading() as conn:
            return self.definitions.pinned(conn, workflow, version).spec

    def validate(self, paths: Sequence[Path] | None = None) -> list[Diagnostic]:
        """Every problem of the given files/folders (default: the workflows folder)."""
        targets = list(paths) if paths else [Path(self.settings.workflows_dir)]
        missing = [p for p in targets if not Path(p).exists()]
        if missing:
            raise NotFound(f"no such file or folder: {', '.join(str(p) for p in missing)}")
        _loaded, diagnostics = load_workflow_paths(targets, self.load_context())
        return diagnostics

    def audit_verify(self, against: Digest | None = None) -> tuple[int, list[AuditProblem]]:
        """Check every case's hash chain and replay it against the case row; the first
        problem of each case (and, given a digest, truncation and deleted cases)."""
        from opsflow.engine.audit import verify_all

        with self._reading() as conn:

            def finals_of(workflow: str, version: int) -> frozenset[str] | None:
                try:
                    return self.definitions.pinned(conn, workflow, version).finals
                except OpsflowError:
                    return None  # a version that no longer loads: closed is not checked

            return verify_all(conn, finals_of, against)

    def audit_digest(self) -> Digest:
        """Each case's last history entry and their root hash, to keep outside the database."""
        from opsflow.engine.digest import Digest

        with self._reading() as conn:
            return Digest.take(conn, self.clock())

    def migrate(
        self,
        workflow: str,
        to_version: int,
        mapping: Mapping[str, str] | None = None,
        actor: str | None = None,
        dry_run: bool = False,
    ) -> MigrationReport:
        """Move the open cases of ``workflow`` to ``to_version``, all or none (MigrationRefused)."""
        from opsflow.runners.migrate import migrate_cases

        return migrate_cases(
            self,
            workflow,
            to_version,
            mapping or {},
            actor=self._member(actor),
            dry_run=dry_run,
        )

    # -- time and delivery ---------------------------------------------------------------

    def fire_due_deadlines(
        self, limit: int | None = None, stop: Callable[[], bool] | None = None
    ) -> WorkerReport:
        """Fire every deadline that is due, each in its own transaction, as ``system``."""
        from opsflow.runners.worker import fire_due_deadlines

        return fire_due_deadlines(self, limit=limit, stop=stop)

    def start_due_schedules(self, stop: Callable[[], bool] | None = None) -> WorkerReport:
        """Start a case for each scheduled workflow's due tick, once per (workflow, tick)."""
        from opsflow.runners.schedules import start_due_schedules

        return start_due_schedules(self, stop=stop)

    def retry_due_incidents(self, stop: Callable[[], bool] | None = None) -> WorkerReport:
        """Try again the failed automation whose next try is due (see ``incidents``)."""
        from opsflow.runners.recovery import retry_due

        return retry_due(self, stop=stop)

    def deliver_outbox(self, limit: int | None = None) -> WorkerReport:
        """Deliver pending notifications through their channels' notifiers."""
        from opsflow.runners.outbox import deliver_outbox

        return deliver_outbox(self, limit=limit)

    def run_due(self, stop: Callable[[], bool] | None = None) -> WorkerReport:
        """One worker pass: due schedule ticks, due deadlines, then the outbox.

        ``stop`` is polled between items: when it returns true the pass ends after the
        item in hand (SIGTERM handling in ``opsflow worker``).
        """
        from opsflow.runners.worker import run_pass

        return run_pass(self, stop=stop)

    def incidents(
        self, everything: bool = False, case_id: str | None = None, limit: int | None = None
    ) -> list[Incident]:
        """Failed automation, newest first: the unresolved incidents, or ``everything``."""
        with self._reading() as conn:
            full_id = persist.resolve_case_id(conn, case_id) if case_id else None
            return incidents.listing(conn, everything=everything, case_id=full_id, limit=limit)

    def retry_incident(
        self, incident_id: int, actor: str | None = None
    ) -> tuple[Incident, str | None]:
        """Try an incident's automation again now; the incident, and the error if it failed.

        Raises ``NotFound`` when there is no such incident and ``IncidentClosed`` when it is
        no longer retrying or open.
        """
        from opsflow.runners.recovery import retry

        return retry(self, incident_id, self._member(actor))

    def resolve_incident(
        self, incident_id: int, comment: str, actor: str | None = None
    ) -> Incident:
        """Close an incident by hand with a comment (audited); its automation is not retried."""
        from opsflow.runners.recovery import resolve

        return resolve(self, incident_id, self._member(actor), comment)

    def outbox(
        self, failed: bool = False, case_id: str | None = None, limit: int | None = None
    ) -> list[OutboxRow]:
        """Notifications in the outbox, newest first (secrets redacted)."""
        from opsflow.runners.outbox import outbox_rows

        return outbox_rows(self, failed=failed, case_id=case_id, limit=limit)

    def retry_notification(self, notification_id: int) -> OutboxRow:
        """Queue a failed notification again (``NotFound``; ``Refused`` unless failed)."""
        from opsflow.runners.outbox import retry_notification

        return retry_notification(self, notification_id)

    # internal hook for the worker
    def _step_for(self, conn: Connection, case: WorkingCase, now: datetime) -> Step:
        return Step(self._pinned(conn, case), case, self._ctx(conn, now))


__all__ = ["SYSTEM", "Actor", "Busy", "Engine", "OpsflowError"]
