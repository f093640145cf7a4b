"""``opsflow.Engine``: the case engine and the runners' entry points, as one library API.

The CLI, the scenario runner, a notebook or a service hold one ``Engine``. Its case work
(start, fire, set, compute, reads) is :class:`opsflow.engine.CaseEngine`'s; the loops that
call the engine (the worker pass, the outbox, migrations, incident retries) live in
``opsflow.runners`` and are reached from here, so the engine never imports a runner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opsflow.core.results import Incident, OutboxRow, WorkerReport
from opsflow.engine import CaseEngine
from opsflow.engine.gauges import Gauges, read_gauges
from opsflow.engine.search import SearchQuery
from opsflow.runners import bulk, migrate, outbox, outbox_pages, recovery, schedules, worker
from opsflow.runners.bulk import BulkResult
from opsflow.runners.migrate import MigrationReport

Stop = Callable[[], bool]


class Engine(CaseEngine):
    """Runs the cases of a project's workflows on one database (SPEC's Python API)."""

    def migrate(
        self,
        workflow: str,
        to_version: int,
        mapping: Mapping[str, str] | None = None,
        actor: str | None = None,
        dry_run: bool = False,
    ) -> MigrationReport:
        """Move the open cases of ``workflow`` to ``to_version``, all or none (MigrationRefused)."""
        return migrate.migrate_cases(
            self, workflow, to_version, mapping or {}, actor=self.member(actor), dry_run=dry_run
        )

    def bulk_fire(
        self,
        event: str,
        *,
        cases: Sequence[str] | None = None,
        query: SearchQuery | None = None,
        data: Mapping[str, Any] | None = None,
        text: Mapping[str, str] | None = None,
        comment: str | None = None,
        dry_run: bool = False,
        actor: str | None = None,
        key: str | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> BulkResult:
        """Fire ``event`` on each of ``cases`` (or of the cases ``query`` matches), each its
        own step and transaction; one refused or failed case does not stop the others.

        Raises ``Usage`` before anything is done for more than 10,000 cases (with the
        count), both or neither of ``cases`` and ``query``, or an empty list, and
        ``NotPermitted`` for an actor outside the team (unless ``dry_run``). A ``key`` gives
        each case its own key, ``KEY:CASE_ID``. ``on_progress(done, total)`` follows along.
        """
        return bulk.bulk_fire(
            self,
            event,
            cases=cases,
            query=query,
            data=data,
            text=text,
            comment=comment,
            dry_run=dry_run,
            actor=actor,
            key=key,
            on_progress=on_progress,
        )

    # -- time and delivery ---------------------------------------------------------------

    def fire_due_deadlines(
        self, limit: int | None = None, stop: Stop | None = None
    ) -> WorkerReport:
        """Fire every deadline that is due, each in its own transaction, as ``system``."""
        return worker.fire_due_deadlines(self, limit=limit, stop=stop)

    def start_due_schedules(self, stop: Stop | None = None) -> WorkerReport:
        """Start a case for each scheduled workflow's due tick, once per (workflow, tick)."""
        return schedules.start_due_schedules(self, stop=stop)

    def retry_due_incidents(self, stop: Stop | None = None) -> WorkerReport:
        """Try again the failed automation whose next try is due (see ``incidents``)."""
        return recovery.retry_due(self, stop=stop)

    def deliver_outbox(self, limit: int | None = None) -> WorkerReport:
        """Deliver pending notifications through their channels' notifiers."""
        return outbox.deliver_outbox(self, limit=limit)

    def run_due(self, stop: Stop | None = None) -> WorkerReport:
        """One worker pass: due schedule ticks, due deadlines, incident retries, the outbox.

        ``stop`` is polled between items: when it returns true the pass ends after the
        item in hand (SIGTERM handling in ``opsflow worker``).
        """
        return worker.run_pass(self, stop=stop)

    # -- failed automation and notifications ------------------------------------------

    def retry_incident(
        self, incident_id: int, actor: str | None = None
    ) -> tuple[Incident, str | None]:
        """Try an incident's automation again now; the incident, and the error if it failed.

        Raises ``NotFound`` when there is no such incident and ``IncidentClosed`` when it is
        no longer retrying or open.
        """
        return recovery.retry(self, incident_id, self.member(actor))

    def resolve_incident(
        self, incident_id: int, comment: str, actor: str | None = None
    ) -> Incident:
        """Close an incident by hand with a comment (audited); its automation is not retried."""
        return recovery.resolve(self, incident_id, self.member(actor), comment)

    def outbox(
        self, failed: bool = False, case_id: str | None = None, limit: int | None = None
    ) -> list[OutboxRow]:
        """Notifications in the outbox, newest first (secrets redacted)."""
        return outbox.outbox_rows(self, failed=failed, case_id=case_id, limit=limit)

    def retry_notification(self, notification_id: int) -> OutboxRow:
        """Queue a failed notification again (``NotFound``; ``Refused`` unless failed)."""
        return outbox.retry_notification(self, notification_id)

    def outbox_page(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> outbox_pages.OutboxPage:
        """One keyset page of notifications with ``status``, newest first (secrets redacted)."""
        return outbox_pages.outbox_page(self, status, limit, cursor)

    def gauges(self) -> Gauges:
        """The backlog for ``/metrics``: outbox, overdue deadlines, worker lag, incidents,
        and this process's steps and refusals."""
        with self.db.read() as conn:
            return read_gauges(conn, self.clock())


__all__ = ["Engine"]
