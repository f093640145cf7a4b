"""Deadlines on a business calendar ÷ the same on wall-clock time.

``calendar_arming`` (target ≤ 1.5): arming 10,000 deadlines, each in one visit of a state
whose SLA counts on ``cn_office`` against the same state with ``calendar: none``: the due
time computed and the deadline row written (``opsflow.engine.arming.arm_deadlines``, as a
step does on entering the state), all in one SQLite transaction per round, the table
emptied between rounds. The SLAs alternate ``16h``, ``2d``, ``90m`` and ``1d4h`` (by a
severity field, so the duration is chosen from the data as well).

``calendar`` (reported): the due-time computation alone: 10,000
``opsflow.core.calendar.add`` of a working duration (``16h``, ``2d``, ``90m``, ``1d4h`` in
turn, parsed once as a compiled definition would)
on the ``cn_office`` calendar (Asia/Shanghai, 09:00-12:00 13:30-18:30 on weekdays, China's
holidays and make-up workdays) against ``opsflow.clock.later(start, delta)``, what the engine
computes today, from the same 10,000 starts spread over 2025 and 2026. The calendar is
warm (its days' spans already turned into instants), as in a long-running worker; the time
of one cold pass, with a fresh calendar, is in ``notes``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import Figure, Options, interleave, project, workdir

DURATIONS = ("16h", "2d", "90m", "1d4h")
CN_OFFICE = {
    "timezone": "Asia/Shanghai",
    "hours": {"mon-fri": "09:00-12:00 13:30-18:30"},
    "holidays": "CN",
}


def office() -> Any:
    from opsflow.calendars import calendars_of

    problems: list[str] = []
    found = calendars_of({"cn_office": CN_OFFICE}, problems)
    assert not problems, problems
    return found["cn_office"]


def starts(n: int) -> list[datetime]:
    """``n`` instants spread over 2025 and 2026 (every 1h47m13s: all hours of the day)."""
    first, step = datetime(2025, 1, 1, tzinfo=UTC), timedelta(hours=1, minutes=47, seconds=13)
    return [first + i * step for i in range(n)]


def calendar(options: Options) -> list[Figure]:
    from opsflow.clock import later
    from opsflow.core.calendar import add, working_duration
    from opsflow.language.durations import parse_duration

    n = options.pick(10_000, 10_000, 200)
    moments = starts(n)
    working = [working_duration(DURATIONS[i % len(DURATIONS)]) for i in range(n)]
    wall_clock = [parse_duration(DURATIONS[i % len(DURATIONS)]) for i in range(n)]

    def on_calendar() -> float:
        began = time.perf_counter()
        for start, duration in zip(moments, working, strict=True):
            add(on, start, duration)
        return time.perf_counter() - began

    def on_wall_clock() -> float:
        began = time.perf_counter()
        for start, delta in zip(moments, wall_clock, strict=True):
            later(start, delta)
        return time.perf_counter() - began

    on = office()  # a fresh calendar: the first pass fills its caches
    cold = on_calendar()
    xs, ys, ratios = interleave(on_calendar, on_wall_clock, options.n_rounds(9), rate=False)
    return [
        Figure(
            name="calendar",
            what=f"{n:,} due times computed on a business calendar ÷ the same on wall-clock "
            "time (the computation alone; arming is not measured)",
            a_label="core.calendar.add (cn_office, warm)",
            b_label="clock.later(start, delta)",
            unit="s",
            a=xs,
            b=ys,
            ratios=ratios,
            target=None,
            better="<=",
            notes={
                "due_times": n,
                "durations": list(DURATIONS),
                "cold_first_pass_s": cold,
                "per_due_time_warm_s": min(xs) / n,
                "issue_target": "see calendar_arming: the deadlines armed and written",
            },
        )
    ]


ARMING_WORKFLOW = """\
workflow: {name}
version: 1
calendar: {calendar}
fields:
  severity: {{type: enum, values: [s0, s1, s2, s3]}}
states:
  review:
    initial: true
    sla: {{within: {{by: severity, s0: 16h, s1: 2d, s2: 90m, s3: 1d4h}}, fire: late}}
  done: {{final: true}}
transitions:
  - {{event: late, from: review, to: done, roles: [system]}}
"""


def _compiled(name: str, calendar: str) -> Any:
    from opsflow.core.compiled import compile_workflow
    from opsflow.language.loader import LoadContext, load_workflow_text

    text = ARMING_WORKFLOW.format(name=name, calendar=calendar)
    loaded, problems = load_workflow_text(text, f"{name}.yaml", LoadContext())
    assert loaded is not None, problems
    return compile_workflow(loaded)


def calendar_arming(options: Options) -> list[Figure]:
    from types import SimpleNamespace

    from sqlalchemy import delete

    from opsflow import Engine
    from opsflow.engine.arming import arm_deadlines
    from opsflow.store import tables

    n = options.pick(10_000, 10_000, 200)
    calendars = {"cn_office": office()}
    on_calendar, wall_clock = _compiled("office", "cn_office"), _compiled("wall", "none")
    cases = [
        SimpleNamespace(
            id=f"{i:032x}",
            state="review",
            visit=1,
            closed=False,
            entered_at=start,
            data={"severity": f"s{i % 4}"},
        )
        for i, start in enumerate(starts(n))
    ]
    with workdir(options, "arming") as root:
        project(root)
        engine = Engine.from_config(root / "opsflow.yaml", db=f"sqlite:///{root / 'arm.db'}")
        engine.db.ensure_schema()

        def arm(wf: Any) -> float:
            with engine.db.write() as conn:
                conn.execute(delete(tables.deadlines))
            began = time.perf_counter()
            with engine.db.write() as conn:
                for case in cases:
                    arm_deadlines(conn, case, wf, calendars, case.entered_at)
            return time.perf_counter() - began

        arm(on_calendar)  # warm: the calendar's days, the statement cache
        arm(wall_clock)
        xs, ys, ratios = interleave(
            lambda: arm(on_calendar), lambda: arm(wall_clock), options.n_rounds(9), rate=False
        )
        with engine.db.read() as conn:
            armed = conn.execute(select(func.count()).select_from(tables.deadlines)).scalar()
        engine.close()
    assert armed == n, armed
    return [
        Figure(
            name="calendar_arming",
            what=f"arming {n:,} deadlines on a business calendar ÷ the same on wall-clock "
            "time (due time computed, row written, one transaction)",
            a_label="arm_deadlines, sla on cn_office",
            b_label="arm_deadlines, calendar: none",
            unit="s",
            a=xs,
            b=ys,
            ratios=ratios,
            target=1.5,
            better="<=",
            notes={"deadlines": n, "per_deadline_on_calendar_s": min(xs) / n},
        )
    ]
