"""The case engine: starts, fires, data changes and reads, each through the one unit of work.

``opsflow.Engine`` (in ``opsflow.facade``) adds the runners' entry points (the worker pass,
the outbox, migrations, incident retries) on top of this class.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from opsflow.calendars import calendar_gaps
from opsflow.clock import Clock, system_now
from opsflow.config import load_settings
from opsflow.core.decide import SYSTEM
from opsflow.core.delegation import roles_at
from opsflow.core.diagram import FORMATS as DIAGRAM_FORMATS
from opsflow.core.diagram import Diagram
from opsflow.core.diagram import render as render_diagram
from opsflow.core.results import (
    AuditProblem,
    Case,
    CaseList,
    FireResult,
    HistoryEntry,
    Incident,
    WorkflowSummary,
)
from opsflow.core.step import Step
from opsflow.core.workflow_view import describe as describe_workflow
from opsflow.engine import (
    access,
    assignment,
    gauges,
    idempotency,
    incidents,
    persist,
    reading,
    search,
    unit,
)
from opsflow.engine import inbox as inbox_pages
from opsflow.engine.audit import verify_all
from opsflow.engine.definitions import Definitions
from opsflow.engine.digest import Digest
from opsflow.engine.inbox import InboxPage
from opsflow.engine.search import SearchPage, SearchQuery
from opsflow.engine.unit import CaseTransaction, UnitOfWork
from opsflow.errors import NotFound, NotPermitted, OpsflowError, Usage
from opsflow.language.diagnostics import Diagnostic
from opsflow.language.loader import LoadContext, load_workflow_paths, team_context
from opsflow.language.models import WorkflowSpec
from opsflow.limits import MAX_NAME
from opsflow.store import Database

if TYPE_CHECKING:
    from opsflow.plugins import Plugins

R = TypeVar("R")
T = TypeVar("T")


class CaseEngine:
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
        self._parts_lock = threading.RLock()  # threads sharing the engine build each part once
        if plugins is not None:
            self.__dict__["plugins"] = plugins  # as if already loaded (cached_property)
        self.clock: Clock = clock or system_now

    @classmethod
    def from_config(cls, path: str | Path | None = None, **overrides: Any) -> Self:
        """An engine for the project described by ``opsflow.yaml`` (or the defaults)."""

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

    # Loaded on first use, then plain attributes (a fire reads them several times).

    @cached_property
    def plugins(self) -> Plugins:
        """The plugins: built-in, installed and local."""
        from opsflow.plugins import load_plugins

        s = self.settings
        return self._built_once(
            "plugins",
            lambda: load_plugins(
                plugins_dir=s.plugins_dir, allow=s.plugins_allow, strict=s.plugins_strict
            ),
        )

    @cached_property
    def db(self) -> Database:
        """The database, connected on first use."""
        return self._built_once("db", lambda: Database(self.settings.db_url))

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
            calendars=frozenset(getattr(self.settings, "calendars", ())),
            params_models=tuple(
                (name, c.params_model)
                for name, c in sorted(self.plugins.calculators.items())
                if c.params_model is not None
            ),
        )

    @cached_property
    def definitions(self) -> Definitions:
        """The workflows folder's definitions and the registered versions, compiled once."""
        return self._built_once(
            "definitions",
            lambda: Definitions(Path(self.settings.workflows_dir), self.load_context()),
        )

    def _built_once(self, name: str, build: Callable[[], T]) -> T:
        """A part built by one thread, however many ask for it first at the same time
        (``cached_property`` keeps no lock of its own: two could load the plugins twice)."""
        with self._parts_lock:
            found: T | None = self.__dict__.get(name)
            if found is None:
                found = self.__dict__[name] = build()
            return found

    def roles_of(self, name: str) -> frozenset[str]:
        """A person's roles now: the team's, and those of whom they stand in for."""
        return roles_at(self.settings, name, self.clock())

    def is_admin(self, name: str) -> bool:
        """Whether ``admins:`` lists ``name`` (retry notifications, verify the audit, tokens)."""
        return name in self.settings.admins

    def actor_name(self, actor: str | None) -> str:
        """The name acting: ``actor``, else the configured one (Usage when unusable)."""
        name = actor or self.settings.actor
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise Usage(f"an actor name is 1 to {MAX_NAME} printable characters, got {name[:40]!r}")
        return name

    def member(self, actor: str | None) -> str:
        """The name of a person who may change cases: a team member when a team is set."""
        return self._team_member(self.actor_name(actor))

    def _team_member(self, name: str) -> str:
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

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()

    # -- the unit of work -------------------------------------------------------------

    def _transact(
        self,
        work: Callable[[CaseTransaction], R],
        on_hook_error: Callable[[Step, Exception], None] | None = None,
    ) -> R:
        """Run ``work`` as one unit of work: retried when the case moved, then the hooks."""
        tries: UnitOfWork[R] = UnitOfWork(self, on_hook_error)
        return tries.run(work)

    def _read(self, work: Callable[[CaseTransaction], R], *, before_hooks: bool = False) -> R:
        """Run ``work`` on a read-only transaction with the same loading and pinning."""
        return unit.read(self, work, before_hooks=before_hooks)

    def warm_up(self, case_id: str) -> None:
        """Load plugins and the case's definition before taking the write lock.

        A fresh process (one CLI command) would otherwise import and compile while holding
        SQLite's write lock, and concurrent writers would queue behind that work.
        """
        _ = self.plugins
        if self.definitions.has_pinned():  # a long-running process is already warm
            return  # (the hot paths ask this before calling)
        with contextlib.suppress(OpsflowError):  # the step itself reports it
            self._read(lambda tx: tx.open(case_id))

    # -- the API ---------------------------------------------------------------------

    def start(
        self,
        workflow: str,
        data: Mapping[str, Any] | None = None,
        actor: str | None = None,
        key: str | None = None,
        text: Mapping[str, str] | None = None,
        comment: str | None = None,
    ) -> Case:
        """Start a case of ``workflow`` (its current version) and return it.

        ``text`` holds values as a person typed them (``--set``, a form), parsed by the
        fields' declared types; they win over ``data``. A key's request is the text as given.
        """
        name, wf = self.member(actor), self.definitions.current(workflow)
        work = partial(unit.start_case, wf=wf, actor=name, data=data, text=text, key=key)
        work = partial(work, comment=comment)  # the start's history entry
        started = self._transact(work)
        gauges.count_step("started")
        return started

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
        expected_version: int | None = None,
    ) -> FireResult:
        """Fire ``event`` on a case as ``actor``; raises NotPermitted/Refused/… when it cannot.

        A refusal (not a dry run's) is recorded in the case's history as ``denied``.
        ``text`` is parsed by the case's pinned field types in the step (see ``start``).
        ``expected_version`` (an If-Match) refuses the fire with PreconditionFailed when the
        case is at another row version, checked once the case row is locked.
        """
        name = self.actor_name(actor)
        request = unit.FireRequest(
            case_id,
            event,
            name,
            dict(data or {}),
            comment,
            key,
            dict(text) if text else None,
            expected_version,
        )
        if dry_run:
            return self._read(partial(unit.preview_fire, request=request), before_hooks=True)
        self._team_member(name)  # a stranger is refused before anything, and writes nothing
        if not self.definitions.has_pinned():
            self.warm_up(case_id)
        tries: UnitOfWork[FireResult | unit.Denied] = UnitOfWork(self)
        result = tries.run(partial(unit.fire_event, request=request))
        if isinstance(result, unit.Denied):  # its denied entry has committed
            gauges.count_refusal(result.refusal.code)
            raise result.refusal
        gauges.count_step(result.outcome)
        return result

    def set(
        self,
        case_id: str,
        data: Mapping[str, Any] | None = None,
        actor: str | None = None,
        comment: str | None = None,
        text: Mapping[str, str] | None = None,
        key: str | None = None,
        expected_version: int | None = None,
    ) -> Case:
        """Change a case's data (audited as a ``data`` entry); rules and auto transitions run.

        ``text`` is parsed by the case's pinned field types in the step (see ``start``);
        ``key`` and ``expected_version`` as for ``fire``.
        """
        name = self.member(actor)
        self.warm_up(case_id)
        work = partial(
            unit.set_data,
            case_id=case_id,
            actor=name,
            data=data,
            text=text,
            comment=comment,
            key=key,
            expected_version=expected_version,
        )
        return self._transact(work)

    def assign(
        self, case_id: str, name: str, actor: str | None = None, expected_version: int | None = None
    ) -> Case:
        """Assign a case to a team member: an audited step (see engine.assignment)."""
        return self._assignment(case_id, actor, name=name, expected_version=expected_version)

    def unassign(
        self, case_id: str, actor: str | None = None, expected_version: int | None = None
    ) -> Case:
        """Assign a case to nobody (audited)."""
        return self._assignment(case_id, actor, expected_version=expected_version)

    def claim(
        self,
        case_id: str,
        actor: str | None = None,
        force: bool = False,
        expected_version: int | None = None,
    ) -> Case:
        """Assign a case to the actor: Conflict when someone else holds it, unless an admin
        forces it (NotPermitted for anyone else's ``force``)."""
        return self._assignment(
            case_id, actor, claim=True, force=force, expected_version=expected_version
        )

    def _assignment(self, case_id: str, actor: str | None, **asked: Any) -> Case:
        who = self.member(actor)
        request = assignment.AssignRequest(case_id, who, self.is_admin(who), **asked)
        return self._transact(partial(assignment.change_assignee, request=request))

    def keyed_response(self, key: str) -> dict[str, Any] | None:
        """What the first start, fire or data change with ``key`` answered (``body``,
        ``etag``), for a door that must answer a repeat exactly as the first time."""
        with self.db.read() as conn:
            return idempotency.stored_response(conn, key)

    def compute(
        self, case_id: str, metrics: Sequence[str] | None = None, actor: str | None = None
    ) -> tuple[Case, dict[str, Any]]:
        """Run calculators now; results are stored on the case and in its history."""
        name = self.member(actor)
        self.warm_up(case_id)
        work = partial(unit.compute_metrics, case_id=case_id, actor=name, metrics=metrics)
        return self._transact(work)

    # -- reading ---------------------------------------------------------------------

    def get(self, case_id: str) -> Case:
        """A case as stored."""
        return self._read(lambda tx: tx.load(tx.resolve(case_id)).view())

    def status(self, case_id: str, actor: str | None = None) -> Case:
        """The case with its pending deadlines and, per event, whether ``actor`` may fire it."""
        name = self.actor_name(actor)

        def status_of(tx: CaseTransaction) -> Case:
            step = tx.open(case_id, reader=name)
            found = tx.view(step, name)
            unresolved = incidents.listing(tx.conn, case_id=step.case.id)
            return replace(found, incidents=unresolved) if unresolved else found

        return self._read(status_of)

    def history(
        self,
        case_id: str,
        after_seq: int = 0,
        limit: int | None = None,
        actor: str | None = None,
    ) -> list[HistoryEntry]:
        """The case's audit trail, oldest first (the entries after ``after_seq``, at most
        ``limit`` of them, for a page); NotFound when ``actor`` may not read the case."""
        name = self.actor_name(actor)
        with self.db.read() as conn:
            full_id = persist.resolve_case_id(conn, case_id)
            if access.restricts(self, conn, name):  # else no case row is read for this
                found = persist.load_case(conn, full_id)
                access.check_readable(self, conn, name, found, asked=case_id)
            entries = persist.history_of(conn, full_id, after_seq, limit)
            if not entries:
                persist.load_case(conn, full_id)  # NotFound for a case that does not exist
            return entries

    def cases(
        self,
        workflow: str | None = None,
        state: str | None = None,
        open: bool | None = None,
        limit: int | None = None,
        actor: str | None = None,
    ) -> CaseList:
        """Cases, newest first, filtered by workflow, state and open/closed; deadlines included.

        Only the cases ``actor`` may read; a case whose row cannot be read is left out and
        named in ``unreadable``.
        """
        name = self.actor_name(actor)
        with self.db.read() as conn:
            readable = access.readable_clause(self, name, conn)
            found = reading.case_list(conn, workflow, state, open, limit, readable)
        missing = workflow and not found and not found.unreadable
        if missing and workflow not in self.definitions.ids():
            raise NotFound(f"no workflow '{workflow}'")
        return found

    def search(self, query: SearchQuery, actor: str | None = None) -> SearchPage:
        """One page of the cases ``query`` finds that ``actor`` may read (SPEC §7.4)."""
        name = self.actor_name(actor)
        with self.db.read() as conn:
            page = search.search_page(self, conn, query, name)
        if not page.items and query.workflow and query.workflow not in self.definitions.ids():
            raise NotFound(f"no workflow '{query.workflow}'")
        return page

    def search_ids(
        self, query: SearchQuery, actor: str | None = None, cap: int = 10_000
    ) -> list[str]:
        """The ids ``query`` finds, in its order: at most ``cap + 1`` (no page limit)."""
        name = self.actor_name(actor)
        with self.db.read() as conn:
            return search.search_ids(self, conn, query, name, cap)

    def search_count(self, query: SearchQuery, actor: str | None = None) -> int:
        """How many cases ``query`` finds that ``actor`` may read."""
        name = self.actor_name(actor)
        with self.db.read() as conn:
            return search.search_count(self, conn, query, name)

    def inbox(
        self,
        actor: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        mine: bool = False,
    ) -> InboxPage:
        """Open cases where ``actor`` can fire an event now, most recently changed first.

        One page of at most ``limit`` (1 to 200) cases and its ``next_cursor``; without a
        limit, the whole inbox. ``mine``: only the cases assigned to ``actor``. Events that
        only a deadline is meant to fire (they name no roles) are left out. A case whose
        row cannot be read is left out and named in ``unreadable``.
        """
        name = self.actor_name(actor)
        readable = access.readable_clause(self, name)  # only cases the actor may read
        if limit is None:
            if cursor is not None:
                raise Usage("an inbox cursor needs the page's limit")
            return self._read(
                partial(inbox_pages.everything, actor=name, mine=mine, readable=readable)
            )
        if not 1 <= limit <= inbox_pages.MAX_PAGE:
            raise Usage(f"an inbox page holds 1 to {inbox_pages.MAX_PAGE} cases, not {limit}")
        work = partial(
            inbox_pages.page, actor=name, limit=limit, cursor=cursor, mine=mine, readable=readable
        )
        return self._read(work)

    def workflows(self, actor: str | None = None) -> list[WorkflowSummary]:
        """The workflows of the workflows folder with their open cases (those ``actor`` may
        read, when given)."""
        with self.db.read() as conn:
            only = access.readable_clause(self, actor, conn) if actor else None
            counts = persist.open_counts(conn, only)
        out = []
        for wid in self.definitions.ids():
            loaded = self.definitions.loaded(wid)
            spec, count = loaded.spec, counts.get(wid, 0)
            states = list(spec.states)
            out.append(WorkflowSummary(wid, spec.version, spec.title, states, count, loaded.path))
        return out

    def workflow_spec(self, workflow: str, version: int | None = None) -> WorkflowSpec:
        """A workflow's definition: the current file, or a registered version."""
        if version is None:
            return self.definitions.current(workflow).spec
        with self.db.read() as conn:
            return self.definitions.pinned(conn, workflow, version).spec

    def workflow_detail(self, workflow: str, actor: str | None = None) -> dict[str, Any]:
        """The current version of a workflow with its states, transitions, roles and fields
        (enough to build a form and a board) and its open cases (``actor`` may read)."""
        found = describe_workflow(self.definitions.current(workflow))
        with self.db.read() as conn:
            only = access.readable_clause(self, actor, conn) if actor else None
            found["open_cases"] = persist.open_counts(conn, only).get(workflow, 0)
        return found

    def graph(
        self,
        workflow: str,
        fmt: str = "mermaid",
        case_id: str | None = None,
        actor: str | None = None,
        locale: str | None = None,
    ) -> Diagram:
        """The diagram of ``workflow`` (titles in ``locale``, else server.locale); with ``case_id``,
        the case's version, its current state highlighted (NotFound for another workflow's case)."""
        if fmt not in DIAGRAM_FORMATS:
            raise Usage(f"unknown diagram format '{fmt}': use {' or '.join(DIAGRAM_FORMATS)}")
        locale = locale or self.settings.server.locale
        if not case_id:
            spec = self.definitions.current(workflow).spec
            return Diagram(workflow, fmt, render_diagram(spec, fmt, locale=locale))
        case = self.status(case_id, actor=actor)
        if case.workflow != workflow:
            self.definitions.current(workflow)  # an unknown workflow is named as such first
            raise NotFound(
                f"case {case.id} is not a case of workflow '{workflow}'",
                [f"it belongs to workflow '{case.workflow}'"],
            )
        spec = self.workflow_spec(workflow, case.version)
        text = render_diagram(spec, fmt, case.state, locale)
        return Diagram(workflow, fmt, text, case.id, case.state)

    def validate(self, paths: Sequence[Path] | None = None) -> list[Diagnostic]:
        """Every problem of the given files/folders (default: the workflows folder)."""
        targets = list(paths) if paths else [Path(self.settings.workflows_dir)]
        missing = [p for p in targets if not Path(p).exists()]
        if missing:
            raise NotFound(f"no such file or folder: {', '.join(str(p) for p in missing)}")
        gaps = calendar_gaps(getattr(self.settings, "calendars", None) or {}, self.clock().year)
        return load_workflow_paths(targets, replace(self.load_context(), calendar_gaps=gaps))[1]

    def audit_verify(self, against: Digest | None = None) -> tuple[int, list[AuditProblem]]:
        """Check every case's hash chain and replay it against the case row; the first
        problem of each case (and, given a digest, truncation and deleted cases)."""
        with self.db.read() as conn:

            def finals_of(workflow: str, version: int) -> frozenset[str] | None:
                try:
                    return self.definitions.pinned(conn, workflow, version).finals
                except OpsflowError:
                    return None  # a version that no longer loads: closed is not checked

            return verify_all(conn, finals_of, against)

    def audit_digest(self) -> Digest:
        """Each case's last history entry and their root hash, to keep outside the database."""
        with self.db.read() as conn:
            return Digest.take(conn, self.clock())

    def incidents(
        self,
        everything: bool = False,
        case_id: str | None = None,
        limit: int | None = None,
        actor: str | None = None,
    ) -> list[Incident]:
        """Failed automation, newest first: the unresolved incidents, or ``everything``.

        With ``case_id`` and ``actor``: NotFound when the actor may not read the case.
        """
        with self.db.read() as conn:
            full_id = persist.resolve_case_id(conn, case_id) if case_id else None
            if full_id and actor and access.restricts(self, conn, actor):
                found = persist.load_case(conn, full_id)
                access.check_readable(self, conn, actor, found, asked=case_id)
            return incidents.listing(conn, everything=everything, case_id=full_id, limit=limit)


__all__ = ["CaseEngine"]
