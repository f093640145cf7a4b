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
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from opsflow.clock import iso
from opsflow.core.decide import SYSTEM
from opsflow.core.step import failure_text
from opsflow.engine import incidents
from opsflow.errors import Busy, ConfigError, Conflict, Refused
from opsflow.language.cron import previous_tick
from opsflow.language.models import ScheduleSpec
from opsflow.runners.worker import (
    PassReport,
    Stop,
    log_item,
    observe_committed,
    report_step_failures,
    worker_id,
)
from opsflow.store import tables as t
from opsflow.templating import render_params

if TYPE_CHECKING:
    from opsflow.engine.engine import Engine


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


def scheduled_workflows(engine: Engine) -> list[tuple[str, ScheduleSpec]]:
    """The valid workflows of the folder that have a schedule."""
    found = []
    for wid in engine.definitions.ids():
        schedule = engine.definitions.loaded(wid).spec.schedule
        if schedule is not None:
            found.append((wid, schedule))
    return found


def start_due_schedules(engine: Engine, stop: Stop | None = None) -> PassReport:
    """Start the due tick of every scheduled workflow (at most one case each per pass)."""
    report = PassReport()
    me = worker_id()
    for wid, schedule in scheduled_workflows(engine):
        if stop is not None and stop():
            break
        held: dict[str, Any] = {}
        try:
            started = engine._retrying(
                partial(_start_one, engine, wid=wid, schedule=schedule, me=me, held=held)
            )
        except (Busy, ConfigError, Conflict):  # the database, not the automation: report it
            raise
        except Exception as exc:  # the case could not start: kept as an incident
            if "tick" not in held:
                raise
            message = engine.settings.redact(failure_text(exc))
            _record_failed_tick(engine, wid, held["tick"], me, message)
            report.errors.append(f"schedule of {wid} at {iso(held['tick'])}: {message}")
            log_item(
                "schedule",
                "failed",
                logging.ERROR,
                workflow=wid,
                tick=iso(held["tick"]),
                detail=message,
            )
            continue
        if started is None:
            continue
        report.cases_started += 1
        log_item("schedule", "started", workflow=wid, case=started, tick=iso(held["tick"]))
        report_step_failures(report, held.get("step"))
        if "step" in held:
            observe_committed(engine, held["step"])
    return report


def _start_one(
    engine: Engine,
    conn: Connection,
    *,
    wid: str,
    schedule: ScheduleSpec,
    me: str,
    held: dict[str, Any],
) -> str | None:
    now = engine.clock()
    ticks = t.schedule_ticks
    last = conn.execute(select(func.max(ticks.c.tick)).where(ticks.c.workflow == wid)).scalar()
    tick = due_tick(schedule, now, _aware(last))
    if tick is None:
        return None
    held["tick"] = tick
    case_id = uuid.uuid4().hex
    # First: on PostgreSQL a racing worker's insert waits here, then fails on the unique key.
    conn.execute(
        insert(ticks).values(
            workflow=wid, tick=tick, status="started", case_id=case_id, worker=me, created_at=now
        )
    )
    held["step"] = start_tick(engine, conn, wid, tick, now, case_id)
    return case_id


def start_tick(
    engine: Engine, conn: Connection, wid: str, tick: datetime, now: datetime, case_id: str
) -> Any:
    """Start the case of one tick of ``wid``'s schedule, as ``system``; returns the step."""
    wf = engine.definitions.current(wid)
    schedule = wf.spec.schedule
    if schedule is None:
        raise Refused(f"workflow '{wid}' has no schedule any more")
    data = render_params(
        schedule.data, {**tick_variables(tick, schedule.timezone), "workflow": wid}
    )
    return engine._start_case(conn, wf, data, SYSTEM, now, case_id=case_id)


def restart_tick(engine: Engine, conn: Connection, wid: str, tick: datetime, now: datetime) -> Any:
    """Start the case of a tick that failed before (an incident's retry); returns the step."""
    case_id = uuid.uuid4().hex
    step = start_tick(engine, conn, wid, tick, now, case_id)
    conn.execute(
        update(t.schedule_ticks)
        .where(t.schedule_ticks.c.workflow == wid, t.schedule_ticks.c.tick == tick)
        .values(status="started", case_id=case_id, note=None)
    )
    return step


def _aware(value: datetime | None) -> datetime | None:
    # func.max() loses the column type on some backends: restore UTC on a naive result.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _record_failed_tick(engine: Engine, wid: str, tick: datetime, me: str, note: str) -> None:
    """Remember a tick that could not start a case, so it is not retried every pass."""
    now = engine.clock()
    try:
        with engine.db.write() as conn:
            conn.execute(
                insert(t.schedule_ticks).values(
                    workflow=wid,
                    tick=tick,
                    status="failed",
                    case_id=None,
                    worker=me,
                    created_at=now,
                    note=note,
                )
            )
            incidents.tick_failed(conn, wid, tick, note, now)
    except IntegrityError:  # another worker recorded (or started) this tick meanwhile
        pass
