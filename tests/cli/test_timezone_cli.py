"""The project's time zone in the CLI: times shown on its clocks with their offset, naive
input read there, JSON in ISO 8601 with an offset, and scenario files.

opsflow.yaml says ``timezone: Asia/Shanghai`` (UTC+8). The clock is fixed by OPSFLOW_NOW.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

Run = Callable[..., Result]
Project = Any

LAUNCH = """\
workflow: launch
version: 1
roles: [requester]
fields:
  title: {type: string}
  publish_at: {type: datetime}
  launch_day: {type: date}
states:
  planned:
    initial: true
    timer: {at: launch_day, fire: go}
    on_enter: [{notify: {channel: chat, to: requester, message: "{{ title }} planned"}}]
  live: {}
  done: {final: true}
transitions:
  - {event: go, from: planned, to: live, roles: [system]}
  - {event: close, from: [planned, live], to: done, roles: [requester]}
"""
# 17:00 UTC on January 5 is 01:00 on January 6 in Shanghai
LATE = "2026-01-05T17:00:00+00:00"


@pytest.fixture
def shanghai(project: Project) -> Project:
    """The CLI test project, in Shanghai, with the launch workflow."""
    root: Path = project.root
    config = root / "opsflow.yaml"
    config.write_text(
        config.read_text(encoding="utf-8") + "timezone: Asia/Shanghai\n", encoding="utf-8"
    )
    (root / "workflows" / "launch.yaml").write_text(LAUNCH, encoding="utf-8")
    return project


def start(run: Run, *sets: str) -> str:
    args = [item for pair in (("--set", s) for s in sets) for item in pair]
    result = run("start", "launch", *args, env={"OPSFLOW_NOW": LATE})
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def lines_of(output: str, start: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(start)]


def test_status_shows_every_time_on_the_project_clocks(run: Run, shanghai: Project) -> None:
    case = start(run, "title=Gala", "publish_at=2026-01-06 18:30", "launch_day=2026-01-10")
    result = run("status", case)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "since:    2026-01-06 01:00 +08:00" in text
    assert "created:  2026-01-06 01:00 +08:00 by rita" in text
    # a datetime field typed without an offset was read in Shanghai, and is shown there
    assert lines_of(text, "publish_at") == ["publish_at  2026-01-06 18:30 +08:00"]
    assert lines_of(text, "launch_day") == ["launch_day  2026-01-10"]
    # the date timer is due at midnight in Shanghai
    assert lines_of(text, "timer") == ["timer  go     2026-01-10 00:00 +08:00  4d 7h  pending"]
    assert "UTC" not in text


def test_json_keeps_iso_8601_with_an_offset(run: Run, shanghai: Project) -> None:
    case = start(run, "title=Gala", "publish_at=2026-01-06 18:30", "launch_day=2026-01-10")
    doc = json.loads(run("status", case, "--json").stdout)
    assert doc["data"]["publish_at"] == "2026-01-06T10:30:00+00:00"
    assert doc["created_at"] == LATE
    (deadline,) = doc["deadlines"]
    assert deadline["due_at"] == "2026-01-09T16:00:00+00:00"
    for text in (doc["created_at"], doc["updated_at"], deadline["due_at"]):
        assert datetime.fromisoformat(text).utcoffset() is not None
    (entry,) = json.loads(run("history", case, "--json").stdout)
    assert datetime.fromisoformat(entry["at"]).utcoffset() is not None
    (row,) = json.loads(run("outbox", "--json").stdout)
    assert datetime.fromisoformat(row["created_at"]).utcoffset() is not None


def test_history_cases_and_outbox_show_the_project_clocks(run: Run, shanghai: Project) -> None:
    case = start(run, "title=Gala", "publish_at=2026-01-06T18:30:00Z")
    history = run("history", case).stdout
    assert "2026-01-06 01:00 +08:00" in history
    assert "publish_at=2026-01-07 02:30 +08:00" in history  # an offset given stays as given
    listing = run("cases").stdout
    assert lines_of(listing, case[:6])[0].endswith("2026-01-06 01:00 +08:00")
    outbox = run("outbox").stdout
    assert "2026-01-06 01:00 +08:00" in outbox


def test_cases_created_after_a_date_is_that_date_in_the_project_zone(
    run: Run, shanghai: Project
) -> None:
    case = start(run, "title=Gala")  # 01:00 on January 6 in Shanghai, January 5 in UTC
    after = run("cases", "--created-after", "2026-01-06", "--json")
    assert [c["id"] for c in json.loads(after.stdout)] == [case]
    before = run("cases", "--created-before", "2026-01-06T00:30", "--json")
    assert json.loads(before.stdout) == []
    where = run("cases", "--where", "created_at >= '2026-01-06T00:30'", "--json")
    assert [c["id"] for c in json.loads(where.stdout)] == [case]


def test_a_utc_project_shows_utc(run: Run, project: Project) -> None:
    (project.root / "workflows" / "launch.yaml").write_text(LAUNCH, encoding="utf-8")
    case = start(run, "title=Gala", "publish_at=2026-01-06 18:30")
    text = run("status", case).stdout
    assert "since:    2026-01-05 17:00 UTC" in text
    assert lines_of(text, "publish_at") == ["publish_at  2026-01-06 18:30 UTC"]


def test_a_bad_datetime_is_refused_with_its_reason(run: Run, shanghai: Project) -> None:
    result = run("start", "launch", "--set", "title=Gala", "--set", "publish_at=soon")
    assert result.exit_code == 65
    assert "field 'publish_at': must be a date and time in ISO 8601" in result.stderr
    assert json.loads(run("cases", "--json").stdout) == []


SCENARIO = """\
workflow: launch
now: "2026-03-01T23:30"
team: {rita: [requester]}
cases:
  - name: the launch goes live at midnight in Shanghai
    start:
      as: rita
      data: {title: Gala, launch_day: "2026-03-02", publish_at: "2026-03-02T09:00"}
    steps:
      - {expect_data: {publish_at: "2026-03-02T09:00"}}
      - {expect_data: {publish_at: "2026-03-02T01:00:00Z"}}
      - {advance: 29m, expect_state: planned}
      - {advance: 1m, expect_state: live}
"""


def test_a_scenario_reads_its_times_in_the_project_zone(run: Run, shanghai: Project) -> None:
    path = shanghai.root / "launch.test.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    result = run("test", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_the_same_scenario_in_utc_fails_at_midnight(run: Run, project: Project) -> None:
    (project.root / "workflows" / "launch.yaml").write_text(LAUNCH, encoding="utf-8")
    path = project.root / "launch.test.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    result = run("test", str(path))
    assert result.exit_code == 1, result.output
    assert "expected publish_at = '2026-03-02T01:00:00+00:00'" in result.output


def test_times_stay_on_one_line_in_a_100_column_terminal(
    run: Run, shanghai: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsflow.cli import output

    case = start(run, "title=春季发布会 Spring launch", "publish_at=2026-01-06 18:30")
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    for command in (("history", case), ("outbox",), ("cases",), ("status", case)):
        result = run(*command, env={"COLUMNS": "100"})
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert all(output.display_width(line) <= 100 for line in lines), result.stdout
        assert "2026-01-06 01:00 +08:00" in result.stdout, command  # not split in two
    # nothing is cut short to make room: the outbox's case id folds, whole
    outbox = run("outbox", env={"COLUMNS": "100"}).stdout
    assert "…" not in outbox
