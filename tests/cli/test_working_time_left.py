"""``opsflow status`` says how much time a deadline has left: working time on a calendar.

Legal reviews within 16 working hours on the Shanghai office calendar (09:00-12:00,
13:30-18:30, Monday to Friday, China's holidays); a parked case waits 3 wall-clock days.
Every clock is fixed with OPSFLOW_NOW: nothing reads the real date.
"""

from __future__ import annotations

import json
from pathlib import Path

from project_cli import TEAM, run_cli

WORKFLOW = """\
workflow: legal
version: 1
calendar: office
roles: [author]
states:
  legal_review: {initial: true, sla: {within: 16h, fire: escalate}}
  waiting: {timer: {after: 3d, fire: remind, calendar: none}}
  done: {final: true}
transitions:
  - {event: escalate, from: legal_review, to: done, roles: [system]}
  - {event: park, from: legal_review, to: waiting, roles: [author]}
  - {event: remind, from: waiting, to: done, roles: [system]}
"""
CONFIG = """\
calendars:
  office:
    timezone: Asia/Shanghai
    hours: {mon-fri: "09:00-12:00 13:30-18:30"}
    holidays: CN
"""
ARMED = "2025-09-30T09:00:00Z"  # Tuesday 17:00 in Shanghai, before National Day


def project(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "legal.yaml").write_text(WORKFLOW, encoding="utf-8")
    team = "".join(f"  {name}: {json.dumps(roles)}\n" for name, roles in TEAM.items())
    (tmp_path / "opsflow.yaml").write_text(f"team:\n{team}{CONFIG}", encoding="utf-8")
    return folder


def env(now: str) -> dict[str, str]:
    return {"OPSFLOW_NOW": now, "OPSFLOW_ACTOR": "ann", "COLUMNS": "100"}


def deadline_row(output: str) -> list[str]:
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["KIND", "FIRES"])
    return lines[at + 1].split()


def test_status_shows_the_working_time_left(db_url: str, tmp_path: Path) -> None:
    folder = project(tmp_path)
    started = run_cli(db_url, folder, "start", "legal", env=env(ARMED))
    assert started.exit_code == 0, started.output
    case_id = started.output.strip()
    # Thursday October 9, 10:00 in Shanghai: 1.5 h were worked on Sep 30, 1 h this morning
    shown = run_cli(db_url, folder, "status", case_id, env=env("2025-10-09T02:00:00Z"))
    assert shown.exit_code == 0, shown.output
    assert deadline_row(shown.output) == [
        "sla",
        "escalate",
        "2025-10-10",
        "09:00",
        "UTC",
        "13h",
        "30m",
        "working",
        "pending",
    ]
    # overdue: Friday 18:00 is an hour after the due time
    late = run_cli(db_url, folder, "status", case_id, env=env("2025-10-10T10:00:00Z"))
    assert deadline_row(late.output)[5:] == ["overdue", "1h", "working", "pending"]
    as_json = run_cli(db_url, folder, "status", case_id, "--json", env=env(ARMED))
    (deadline,) = json.loads(as_json.output)["deadlines"]
    assert deadline["calendar"] == "office"
    assert deadline["due_at"] == "2025-10-10T09:00:00+00:00"


def test_a_wall_clock_deadline_shows_days_and_hours(db_url: str, tmp_path: Path) -> None:
    folder = project(tmp_path)
    case_id = run_cli(db_url, folder, "start", "legal", env=env(ARMED)).output.strip()
    parked = run_cli(db_url, folder, "fire", case_id, "park", env=env(ARMED))
    assert parked.exit_code == 0, parked.output
    shown = run_cli(db_url, folder, "status", case_id, env=env("2025-10-01T07:00:00Z"))
    assert deadline_row(shown.output)[:3] + deadline_row(shown.output)[5:] == [
        "timer",
        "remind",
        "2025-10-03",
        "2d",
        "2h",
        "pending",
    ]
    as_json = run_cli(db_url, folder, "status", case_id, "--json", env=env(ARMED))
    assert json.loads(as_json.output)["deadlines"][0]["calendar"] is None
