"""Schedules (SPEC §2.8): one case per (workflow, tick), the catch-up policy, tick variables."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opsflow.language.models import ScheduleSpec
from opsflow.runners.schedules import due_tick, tick_variables
from opsflow.store import tables as t

CYCLE = """\
workflow: cycle
version: 1
title: 月度复盘 Monthly review
fields:
  period: {type: string, required: true}
  start: {type: date}
  end: {type: date}
  tick_at: {type: datetime}
  week: {type: string}
  owner: {type: string}
states:
  open: {initial: true}
  closed: {final: true}
transitions:
  - {event: close, from: open, to: closed}
schedule:
  cron: "0 9 1 * *"
  timezone: Asia/Shanghai
  data:
    period: "{{ previous_month }}"
    start: "{{ period_start }}"
    end: "{{ period_end }}"
    tick_at: "{{ tick }}"
    week: "{{ previous_week }}"
    owner: ops
"""


@pytest.fixture
def cycle_engine(make_engine: Any, workflows_dir: Path) -> Any:
    (workflows_dir / "cycle.yaml").write_text(CYCLE, encoding="utf-8")
    return make_engine()


def _ticks(engine: Any) -> list[Any]:
    with engine.db.read() as conn:
        return list(conn.execute(select(t.schedule_ticks).order_by(t.schedule_ticks.c.tick)))


def test_tick_variables_use_the_schedules_local_date() -> None:
    # 00:00 on 1 February in Shanghai is still 31 January in UTC
    tick = datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    v = tick_variables(tick, "Asia/Shanghai")
    assert v["tick"] == "2026-02-01T00:00:00+08:00"
    assert v["tick_utc"] == "2026-01-31T16:00:00+00:00"
    assert (v["tick_date"], v["tick_month"], v["previous_day"]) == (
        "2026-02-01",
        "2026-02",
        "2026-01-31",
    )
    assert (v["previous_month"], v["period_start"], v["period_end"]) == (
        "2026-01",
        "2026-01-01",
        "2026-01-31",
    )
    # 2026-02-01 is a Sunday: the week before is Monday 19 – Sunday 25 January (ISO W04)
    assert (v["previous_week"], v["week_start"], v["week_end"]) == (
        "2026-W04",
        "2026-01-19",
        "2026-01-25",
    )
    march = tick_variables(datetime(2026, 3, 1, 1, 0, tzinfo=UTC), "Asia/Shanghai")
    assert (march["period_start"], march["period_end"]) == ("2026-02-01", "2026-02-28")
    january = tick_variables(datetime(2026, 1, 1, 1, 0, tzinfo=UTC), "UTC")
    assert (january["previous_month"], january["previous_week"]) == ("2025-12", "2025-W52")


def test_due_tick_is_the_latest_tick_after_the_last_recorded_one() -> None:
    spec = ScheduleSpec(cron="0 9 1 * *", timezone="Asia/Shanghai")
    now = datetime(2026, 4, 10, tzinfo=UTC)
    april = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    assert due_tick(spec, now, None) == april  # first sight: the running period's tick
    assert due_tick(spec, now, datetime(2026, 1, 1, 1, 0, tzinfo=UTC)) == april  # no backfill
    assert due_tick(spec, now, april) is None


def test_first_pass_starts_the_running_periods_case_once(cycle_engine: Any) -> None:
    report = cycle_engine.run_due()
    assert report.cases_started == 1
    assert report.to_json()["cases_started"] == 1
    (case,) = cycle_engine.cases(workflow="cycle")
    assert case.created_by == "system"
    assert case.data == {
        "period": "2025-12",
        "start": "2025-12-01",
        "end": "2025-12-31",
        "tick_at": "2026-01-01T01:00:00+00:00",
        "week": "2025-W52",
        "owner": "ops",
    }
    assert cycle_engine.history(case.id)[0].actor == "system"
    assert cycle_engine.run_due().cases_started == 0
    (tick,) = _ticks(cycle_engine)
    assert (tick.tick, tick.status, tick.case_id) == (
        datetime(2026, 1, 1, 1, 0, tzinfo=UTC),
        "started",
        case.id,
    )


def test_after_downtime_only_the_latest_missed_tick_starts(cycle_engine: Any, clock: Any) -> None:
    assert cycle_engine.start_due_schedules().cases_started == 1  # January's tick
    clock.now = datetime(2026, 4, 10, tzinfo=UTC)  # February, March and April missed
    assert cycle_engine.start_due_schedules().cases_started == 1
    assert cycle_engine.start_due_schedules().cases_started == 0
    periods = sorted(c.data["period"] for c in cycle_engine.cases(workflow="cycle"))
    assert periods == ["2025-12", "2026-03"]
    assert [r.tick.month for r in _ticks(cycle_engine)] == [1, 4]


def test_three_workers_start_one_case_per_tick(
    cycle_engine: Any, make_engine: Any, clock: Any
) -> None:
    workers = [make_engine() for _ in range(3)]
    started: list[int] = []
    errors: list[BaseException] = []
    for month in (1, 2, 3):
        clock.now = datetime(2026, month, 1, 1, 0, tzinfo=UTC)  # the tick itself
        barrier = threading.Barrier(len(workers))

        def work(engine: Any, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait()
                started.append(engine.run_due().cases_started)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    assert sum(started) == 3
    periods = sorted(c.data["period"] for c in cycle_engine.cases(workflow="cycle"))
    assert periods == ["2025-12", "2026-01", "2026-02"]


def test_a_tick_whose_data_is_refused_is_recorded_once(
    make_engine: Any, workflows_dir: Path
) -> None:
    bad = CYCLE.replace("owner: {type: string}", "owner: {type: integer}").replace(
        "owner: ops", 'owner: "{{ tick_month }}"'
    )
    (workflows_dir / "cycle.yaml").write_text(bad, encoding="utf-8")
    engine = make_engine()
    report = engine.run_due()
    assert report.cases_started == 0
    assert len(report.errors) == 1
    assert "owner" in report.errors[0]
    assert engine.run_due().errors == []
    (tick,) = _ticks(engine)
    assert (tick.status, tick.case_id) == ("failed", None)
    assert "owner" in tick.note
    assert engine.cases(workflow="cycle") == []
