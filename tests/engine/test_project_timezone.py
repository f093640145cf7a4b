"""The project's time zone (``timezone:``) in the engine, on both backends: a date timer's
midnight, naive datetimes typed by a person, ``today``, and search times.

The project is in Shanghai (UTC+8, no daylight saving). Every clock is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKFLOW = """\
workflow: launch
version: 1
roles: [author]
fields:
  title: {type: string}
  launch_day: {type: date}
  publish_at: {type: datetime}
  stamped: {type: date}
states:
  planned:
    initial: true
    timer: {at: launch_day, fire: go}
    on_enter:
      - notify:
          channel: chat
          to: author
          message: "{{ title | local }} goes live {{ publish_at | local }}"
  live: {}
  done: {final: true}
transitions:
  - {event: go, from: planned, to: live, roles: [system]}
  - {event: stamp, from: planned, roles: [author], do: [{set: {stamped: "today()"}}]}
  - {event: close, from: [planned, live], to: done, roles: [author]}
"""

Make = Callable[..., Any]


@pytest.fixture
def engine_at(make_engine: Make, tmp_path: Path) -> Make:
    """``engine_at(now, timezone="Asia/Shanghai")``: an engine whose clock stands still."""
    folder = tmp_path / "launch-workflows"
    folder.mkdir()
    (folder / "launch.yaml").write_text(WORKFLOW, encoding="utf-8")

    def make(now: datetime, timezone: str = "Asia/Shanghai") -> Any:
        zoned = {"timezone": timezone, "actor": "ann"}
        return make_engine(workflows=folder, clock=lambda: now, settings=zoned)

    return make


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def pending_due(engine: Any, case_id: str) -> list[datetime]:
    return [d.due_at for d in engine.status(case_id).deadlines if d.status == "pending"]


# -- a date timer fires at midnight in the project's time zone ----------------------------


def test_a_date_timer_is_due_at_midnight_in_the_project_zone(engine_at: Make) -> None:
    case = engine_at(utc(2026, 12, 1, 9)).start("launch", {"launch_day": "2026-12-05"})
    # 2026-12-05 00:00 in Shanghai is 2026-12-04 16:00 UTC
    assert pending_due(engine_at(utc(2026, 12, 1, 9)), case.id) == [utc(2026, 12, 4, 16)]
    assert engine_at(utc(2026, 12, 4, 15, 59)).run_due().deadlines_fired == 0
    on_time = engine_at(utc(2026, 12, 4, 16))
    assert on_time.run_due().deadlines_fired == 1
    assert on_time.status(case.id).state == "live"


def test_a_date_timer_follows_its_field_to_the_new_midnight(engine_at: Make) -> None:
    engine = engine_at(utc(2026, 12, 1, 9))
    case = engine.start("launch", {"launch_day": "2026-12-05"})
    engine.set(case.id, text={"launch_day": "2026-12-08"})
    assert pending_due(engine, case.id) == [utc(2026, 12, 7, 16)]


def test_a_date_timer_in_a_utc_project_is_due_at_midnight_utc(engine_at: Make) -> None:
    engine = engine_at(utc(2026, 12, 1, 9), timezone="UTC")
    case = engine.start("launch", {"launch_day": "2026-12-05"})
    assert pending_due(engine, case.id) == [utc(2026, 12, 5)]


def test_a_date_timer_on_the_first_day_of_the_calendar_stays_in_range(engine_at: Make) -> None:
    engine = engine_at(utc(2026, 12, 1, 9))
    case = engine.start("launch", {"launch_day": "0001-01-01"})
    assert pending_due(engine, case.id) == [utc(1, 1, 1)]  # there is no earlier instant
    assert engine.run_due().deadlines_fired == 1


# -- naive datetimes a person types are read in the project's time zone -------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("2026-12-05T18:30", "2026-12-05T10:30:00+00:00"),
        ("2026-12-05 18:30", "2026-12-05T10:30:00+00:00"),
        ("2026-12-05", "2026-12-04T16:00:00+00:00"),
        ("2026-12-05T18:30:00Z", "2026-12-05T18:30:00+00:00"),  # an offset stays as given
        ("2026-12-05T18:30:00-05:00", "2026-12-05T23:30:00+00:00"),
    ],
)
def test_a_naive_datetime_is_read_in_the_project_zone(
    engine_at: Make, typed: str, stored: str
) -> None:
    engine = engine_at(utc(2026, 12, 1, 9))
    started = engine.start("launch", {"publish_at": typed})  # data (JSON, --data, the API)
    assert started.data["publish_at"] == stored
    texted = engine.start("launch", text={"publish_at": typed})  # --set, a form
    assert texted.data["publish_at"] == stored
    changed = engine.set(started.id, text={"publish_at": typed.replace("12-05", "12-06")})
    assert changed.data["publish_at"] == stored.replace("12-05", "12-06").replace("12-04", "12-05")


def test_a_bad_datetime_text_is_refused_and_nothing_is_written(engine_at: Make) -> None:
    from opsflow.errors import Invalid

    engine = engine_at(utc(2026, 12, 1, 9))
    case = engine.start("launch", {"publish_at": "2026-12-05T18:30"})
    with pytest.raises(Invalid) as caught:
        engine.set(case.id, text={"publish_at": "2026-12-32 09:00"})
    assert caught.value.exit_code == 65
    assert "field 'publish_at': must be a date and time that exists" in str(caught.value)
    after = engine.status(case.id)
    assert after.data["publish_at"] == "2026-12-05T10:30:00+00:00"
    assert [e.kind for e in engine.history(case.id)] == ["start"]


# -- today() is the date in the project's time zone ---------------------------------------


@pytest.mark.parametrize(
    ("now", "today"),
    [
        (utc(2026, 3, 1, 15, 30), "2026-03-01"),  # 23:30 in Shanghai
        (utc(2026, 3, 1, 16, 30), "2026-03-02"),  # 00:30 in Shanghai, still March 1 in UTC
    ],
)
def test_today_is_the_date_in_the_project_zone(engine_at: Make, now: datetime, today: str) -> None:
    engine = engine_at(now)
    case = engine.start("launch", {})
    engine.fire(case.id, "stamp")
    assert engine.status(case.id).data["stamped"] == today


def test_today_in_a_utc_project_is_the_utc_date(engine_at: Make) -> None:
    engine = engine_at(utc(2026, 3, 1, 16, 30), timezone="UTC")
    case = engine.start("launch", {})
    engine.fire(case.id, "stamp")
    assert engine.status(case.id).data["stamped"] == "2026-03-01"


# -- search: a time without an offset is read in the project's time zone ------------------


def test_search_reads_naive_times_in_the_project_zone(engine_at: Make) -> None:
    from opsflow.engine.search import SearchQuery

    late = engine_at(utc(2026, 3, 1, 15, 30)).start("launch", {"launch_day": "2026-12-05"})
    early = engine_at(utc(2026, 3, 1, 16, 30)).start("launch", {})  # March 2 in Shanghai
    engine = engine_at(utc(2026, 3, 5))

    def ids(**query: Any) -> set[str]:
        return {c.id for c in engine.search(SearchQuery(**query), actor="ann").items}

    march_2 = datetime(2026, 3, 2)  # naive, as the CLI and the board pass a date
    assert ids(created_after=march_2) == {early.id}
    assert ids(created_before=march_2) == {late.id}
    assert ids(created_after=utc(2026, 3, 2)) == set()  # an offset stays as given
    assert ids(where="created_at >= '2026-03-02'") == {early.id}
    assert ids(where="created_at < '2026-03-02T00:00'") == {late.id}
    assert ids(where="created_at >= '2026-03-01T16:00:00Z'") == {early.id}
    # a date field meets a date as written, and a time as its day in Shanghai
    assert ids(where="launch_day == '2026-12-05'") == {late.id}
    assert ids(where="launch_day == '2026-12-04T16:30:00Z'") == {late.id}
    assert ids(where="launch_day == '2026-12-05T12:00'") == {late.id}


# -- | local in a notification --------------------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "data", "message"),
    [
        (
            "Asia/Shanghai",
            {"title": "Gala", "publish_at": "2026-12-05T10:30:00Z"},
            "Gala goes live 2026-12-05 18:30 +08:00",
        ),
        (
            "Asia/Shanghai",
            {"title": "Gala", "publish_at": "2026-12-05T18:30"},
            "Gala goes live 2026-12-05 18:30 +08:00",
        ),
        (
            "UTC",
            {"title": "Gala", "publish_at": "2026-12-05T10:30:00Z"},
            "Gala goes live 2026-12-05 10:30 UTC",
        ),
        # unset: empty text; not a time (the title): as given; the case starts either way
        ("Asia/Shanghai", {}, " goes live "),
    ],
)
def test_local_renders_a_notification_time_on_the_project_clocks(
    engine_at: Make, timezone: str, data: dict[str, str], message: str
) -> None:
    engine = engine_at(utc(2026, 12, 1, 9), timezone=timezone)
    case = engine.start("launch", data)
    assert case.state == "planned"
    assert [row.message for row in engine.outbox(case_id=case.id)] == [message]


def test_a_migrated_case_arms_its_date_timer_at_midnight_there(
    engine_at: Make, tmp_path: Path
) -> None:
    engine = engine_at(utc(2026, 12, 1, 9))
    case = engine.start("launch", {"launch_day": "2026-12-05"})
    version_2 = WORKFLOW.replace("version: 1", "version: 2").replace(
        "live: {}", "live: {title: Live}"
    )
    (tmp_path / "launch-workflows" / "launch.yaml").write_text(version_2, encoding="utf-8")
    moved = engine_at(utc(2026, 12, 1, 10))
    report = moved.migrate("launch", 2, actor="ann")
    assert (len(report.moved), report.refused) == (1, [])
    assert moved.status(case.id).version == 2
    assert pending_due(moved, case.id) == [utc(2026, 12, 4, 16)]
