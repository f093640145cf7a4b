"""``opsflow test``: ``advance`` across a holiday week fires a calendar deadline on time.

The scenario runs with the project's opsflow.yaml, so the calendars it declares apply.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

Run = Callable[..., Result]
Project = Any

CALENDARS = """
calendars:
  office:
    timezone: Asia/Shanghai
    hours: {mon-fri: "09:00-12:00 13:30-18:30"}
    holidays: CN
"""

LEGAL = """\
workflow: legal
version: 1
calendar: office
roles: [legal]
fields:
  title: {type: string}
states:
  legal_review: {initial: true, sla: {within: 16h, fire: escalate}}
  escalated: {}
  done: {final: true}
transitions:
  - {event: escalate, from: legal_review, to: escalated, roles: [system]}
  - {event: close, from: [legal_review, escalated], to: done, roles: [legal]}
"""

# Tuesday 2025-09-30 17:00 in Shanghai; National Day is Oct 1-8: 1.5 working hours that
# Tuesday, 8 on Thursday Oct 9, the last 6.5 on Friday Oct 10, due at 17:00 (09:00 UTC).
SCENARIO = """\
workflow: legal
now: "2025-09-30T09:00:00+00:00"
team:
  lou: [legal]
cases:
  - name: the sla waits out the holidays
    start: {as: lou, data: {title: Contract}}
    steps:
      - {advance: 9d, expect_state: legal_review}
      - {advance: 23h59m, expect_state: legal_review}
      - {advance: 1m, expect_state: escalated}
      - {fire: close, as: lou, expect: done}
"""


def test_advance_across_a_holiday_week_on_a_calendar(run: Run, project: Project) -> None:
    root: Path = project.root
    config = root / "opsflow.yaml"
    config.write_text(config.read_text(encoding="utf-8") + CALENDARS, encoding="utf-8")
    (root / "workflows" / "legal.yaml").write_text(LEGAL, encoding="utf-8")
    path = root / "legal.test.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    result = run("test", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"


def test_the_same_scenario_fails_on_the_wall_clock(run: Run, project: Project) -> None:
    root: Path = project.root
    (root / "workflows" / "legal.yaml").write_text(
        LEGAL.replace("calendar: office\n", ""), encoding="utf-8"
    )
    path = root / "legal.test.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    result = run("test", str(path))
    assert result.exit_code == 1, result.output
    assert "expected state legal_review, got escalated" in result.output
