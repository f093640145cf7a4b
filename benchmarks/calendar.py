"""Due times on a business calendar ÷ the same due times on wall-clock time (reported).

The issue's target is that arming 10,000 deadlines on a calendar takes under 1.5× the same
on wall-clock time. Deadlines are not armed on calendars yet, so this figure measures the
due-time computation alone: 10,000 ``opsflow.core.calendar.add`` of a working duration
(``16h``, ``2d``, ``90m``, ``1d4h`` in turn, parsed once as a compiled definition would)
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

from benchmarks.common import Figure, Options, interleave

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
                "issue_target": "arming 10,000 deadlines on a calendar under 1.5x wall-clock "
                "arming: measured once deadlines are armed on calendars",
            },
        )
    ]
