"""Schedules (SPEC §2.8): a workflow with ``schedule: {cron, timezone, data}`` starts a case
on each tick, as the actor ``system``.

Ticks are computed with croniter in the schedule's timezone and stored in UTC. Each
(workflow, tick) starts exactly once however many workers run: the ``schedule_ticks`` row,
unique on (workflow, tick), is inserted in the same transaction as the case it starts, so
a second worker either waits for the first and finds the tick taken, or its own insert
fails and its whole attempt rolls back.

Catch-up policy: a pass starts at most one case per workflow, for the latest tick at or
before now, and only if that tick is later than the latest tick already recorded for the
workflow. After downtime the most recent missed tick starts a case and the older missed
ticks are never backfilled. The first time a worker sees a scheduled workflow (no tick
recorded yet) it starts the latest tick at or before now: the tick of the period that is
running (the next tick is still in the future), so a monthly review cycle deployed on the
15th gets this month's case, and nothing older.

A tick whose case cannot start (a template or field error, a calculator or plugin that
fails) is recorded as ``failed`` with the reason, so the catch-up policy moves on, and an
incident keeps it: the worker starts it again with backoff, and after the last try it is
open until a person retries it (``opsflow incidents retry``) or resolves it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update

from opsflow.clock import iso
from opsflow.core.decide import SYSTEM
from opsflow.core.step import Step, failure_text
from opsflow.engine import CaseEngine, incidents, unit
from opsflow.engine.unit import CaseTransaction, UnitOfWork
from opsflow.errors import Busy, ConfigError, Conflict, Refused
from opsflow.language.cron import previous_tick
from opsflow.language.models import ScheduleSpec
from opsflow.runners.items import (
    PassReport,
    Stop,
    log_hook_error,
    log_item,
    report_step_failures,
    worker_id,
)
from opsflow.store import tables
from opsflow.templating import render_params


def tick_variables(tick: datetime, timezone: str) -> dict[str, str]:
    """The template variables of a tick, all computed on the tick's local date.

    ``tick`` (ISO 8601, local time with offset), ``tick_utc``, ``tick_date``, ``tick_month``
    (``YYYY-MM``), ``previous_day``, ``previous_month`` (``YYYY-MM`` of the month before),
    ``period_start``/``period_end`` (first and last day of that month), ``previous_week``
    (ISO week ``YYYY-Www`` of the week before), ``week_start``/``week_end`` (its Monday and
    Sunday), ``timezone``.
    """
    local = tick.astimezone(ZoneInfo(timezone))
    day = local.date()
    last_of_previous = day.replace(day=1) - timedelta(days=1)
    monday = day - timedelta(days=day.weekday())
    previous_monday = monday - timedelta(days=7)
    week = previous_monday.isocalendar()
    return {
        "tick": local.isoformat(),
        "tick_utc": iso(tick),
        "tick_date": day.isoformat(),
        "tick_month": day.strftime("%Y-%m"),
        "previous_day": (day - timedelta(days=1)).isoformat(),
        "previous_month": last_of_previous.strftime("%Y-%m"),
        "period_start": last_of_previous.replace(day=1).isoformat(),
        "period_end": last_of_previous.isoformat(),
        "previous_week": f"{week.year}-W{week.week:02d}",
        "week_start": previous_monday.isoformat(),
        "week_end": (monday - timedelta(days=1)).isoformat(),
        "timezone": timezone,
    }


def due_tick(schedule: ScheduleSpec, now: datetime, last: datetime | None) -> datetime | None:
    """The tick to start now under the catch-up policy (module docstring), or None."""
    tick = previous_tick(schedule.cron, schedule.timezone, now)
    if last is not None and tick <= last:
        return None
    return tick


def scheduled_workflows(engine: CaseEngine) -> list[tuple[str, ScheduleSpec]]:
    """The valid workflows of the folder that have a schedule."""
    found = []
    for wid in engine.definitions.ids():
        schedule = engine.definitions.loaded(wid).spec.schedule
        if schedule is not None:
            found.append((wid, schedule))
    return found


def start_due_schedules(engine: CaseEngine, stop: Stop | None = None) -> PassReport:
    """Start the due tick of every scheduled workflow (at most one case each per pass)."""
    report = PassReport()
    for wid, schedule in scheduled_workflows(engine):
        if stop is not None and stop():
            break
        tries: UnitOfWork[Step | None] = UnitOfWork(engine, on_hook_error=log_hook_error)
        try:
            step = tries.run(partial(_start_one, wid=wid, schedule=schedule))
        except (Busy, ConfigError, Conflict):  # the database, not the automation: report it
            raise
        except Exception as exc:  # the case could not start: kept as an incident
            tick = tries.claimed
            if tick is None:
                raise
            message = engine.settings.redact(failure_text(exc))
            _record_failed_tick(engine, wid, tick, message)
            report.errors.append(f"schedule of {wid} at {iso(tick)}: {message}")
            log_item(
                "schedule", "failed", logging.ERROR, workflow=wid, tick=iso(tick), detail=message
            )
            continue
        if step is None:
            continue
        report.cases_started += 1
        log_item("schedule", "started", workflow=wid, case=step.case.id, tick=iso(tries.claimed))
        report_step_failures(report, step)
    return report


def _start_one(tx: CaseTransaction, *, wid: str, schedule: ScheduleSpec) -> Step | None:
    ticks = tables.schedule_ticks
    last = tx.conn.execute(select(func.max(ticks.c.tick)).where(ticks.c.workflow == wid)).scalar()
    tick = tx.claimed = due_tick(schedule, tx.now, _aware(last))
    if tick is None:
        return None
    case_id = uuid.uuid4().hex
    # First: on PostgreSQL a racing worker's insert waits here, then fails on the unique key.
    tx.conn.execute(
        insert(ticks).values(
            workflow=wid,
            tick=tick,
            status="started",
            case_id=case_id,
            worker=worker_id(),
            created_at=tx.now,
        )
    )
    return start_tick(tx, wid, tick, case_id)


def start_tick(tx: CaseTransaction, wid: str, tick: datetime, case_id: str) -> Step:
    """Start the case of one tick of ``wid``'s schedule, as ``system``; returns the step."""
    wf = tx.shop.definitions.current(wid)
    schedule = wf.spec.schedule
    if schedule is None:
        raise Refused(f"workflow '{wid}' has no schedule any more")
    data = render_params(
        schedule.data, {**tick_variables(tick, schedule.timezone), "workflow": wid}
    )
    return tx.start(wf, data, SYSTEM, case_id=case_id)


def restart_tick(tx: CaseTransaction, wid: str, tick: datetime) -> Step:
    """Start the case of a tick that failed before (an incident's retry); returns the step."""
    case_id = uuid.uuid4().hex
    step = start_tick(tx, wid, tick, case_id)
    ticks = tables.schedule_ticks
    tx.conn.execute(
        update(ticks)
        .where(ticks.c.workflow == wid, ticks.c.tick == tick)
        .values(status="started", case_id=case_id, note=None)
    )
    return step


def _aware(value: datetime | None) -> datetime | None:
    # func.max() loses the column type on some backends: restore UTC on a naive result.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _record_failed_tick(engine: CaseEngine, wid: str, tick: datetime, note: str) -> None:
    """Remember a tick that could not start a case, so it is not retried every pass.

    Another worker may have recorded (or started) the tick meanwhile: then nothing is
    written (a racing insert fails on the unique key and the retry finds its row).
    """
    ticks = tables.schedule_ticks

    def keep_failure(tx: CaseTransaction) -> None:
        known = select(ticks.c.tick).where(ticks.c.workflow == wid, ticks.c.tick == tick)
        if tx.conn.execute(known).first() is not None:
            return
        tx.conn.execute(
            insert(ticks).values(
                workflow=wid,
                tick=tick,
                status="failed",
                case_id=None,
                worker=worker_id(),
                created_at=tx.now,
                note=note,
            )
        )
        incidents.tick_failed(tx.conn, wid, tick, note, tx.now)

    unit.transact(engine, keep_failure)
