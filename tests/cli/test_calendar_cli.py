"""``opsflow calendar NAME [--month YYYY-MM]`` through the real CLI (in-process)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from click.testing import Result

Project = Any  # the cli conftest's temp project
Run = Callable[..., Result]


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


CALENDARS = """
calendars:
  cn_office:
    timezone: Asia/Shanghai
    hours: {mon-fri: "09:00-12:00 13:30-18:30"}
    holidays: CN
    add_holidays: [2026-12-31]
    add_workdays: [2026-12-27]
"""


def with_calendars(project: Project) -> None:
    config = project.root / "opsflow.yaml"
    config.write_text(config.read_text(encoding="utf-8") + CALENDARS, encoding="utf-8")


def test_a_month_as_a_table(project: Project, run: Run) -> None:
    with_calendars(project)
    result = run("calendar", "cn_office", "--month", "2025-10")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "cn_office (Asia/Shanghai), 2025-10: 18 working days, 144 working hours"
    assert lines[1].split() == ["DATE", "DAY", "WORKING", "WHY", "HOURS"]
    assert len(lines) == 2 + 31
    assert lines[2].split() == ["2025-10-01", "Wed", "no", "国庆节"]
    assert lines[7].split() == ["2025-10-06", "Mon", "no", "中秋节"]
    assert lines[12].split() == [
        "2025-10-11",
        "Sat",
        "yes",
        "make-up",
        "workday",
        "(调休)",
        "09:00-12:00",
        "13:30-18:30",
    ]
    assert lines[13].split() == ["2025-10-12", "Sun", "no", "weekend"]
    assert lines[14].split() == ["2025-10-13", "Mon", "yes", "09:00-12:00", "13:30-18:30"]
    assert result.stderr == ""


def test_json_and_the_company_days(project: Project, run: Run) -> None:
    with_calendars(project)
    result = run("calendar", "cn_office", "--month", "2026-12", "--json")
    assert result.exit_code == 0, result.output
    document = as_json(result)
    assert {k: document[k] for k in ("calendar", "timezone", "month")} == {
        "calendar": "cn_office",
        "timezone": "Asia/Shanghai",
        "month": "2026-12",
    }
    listed = {d["date"]: d for d in document["days"]}
    assert len(listed) == 31
    assert listed["2026-12-27"]["kind"] == "company_workday"
    assert listed["2026-12-31"] == {
        "date": "2026-12-31",
        "weekday": "thu",
        "working": False,
        "kind": "company_day_off",
        "reason": "company day off",
        "hours": [],
    }
    assert document["working_days"] == sum(d["working"] for d in document["days"])
    assert document["working_hours"] == document["working_days"] * 8


def test_the_default_month_is_this_month_in_the_calendars_time_zone(
    project: Project, run: Run
) -> None:
    with_calendars(project)
    # 17:00 UTC on 31 January is 01:00 on 1 February in Beijing.
    result = run("calendar", "cn_office", "--json", env={"OPSFLOW_NOW": "2026-01-31T17:00:00Z"})
    assert result.exit_code == 0, result.output
    assert as_json(result)["month"] == "2026-02"
    earlier = run("calendar", "cn_office", "--json", env={"OPSFLOW_NOW": "2026-01-31T15:00:00Z"})
    assert as_json(earlier)["month"] == "2026-01"


def test_an_unknown_calendar_is_not_found(project: Project, run: Run) -> None:
    with_calendars(project)
    result = run("calendar", "cn_ofice")
    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr == (
        "error: calendar 'cn_ofice' not found (did you mean 'cn_office'?) (known: cn_office)\n"
    )
    as_document = run("calendar", "nope", "--json")
    assert as_document.exit_code == 5
    assert as_json(as_document)["error"] == "not_found"


def test_no_calendars_configured(run: Run) -> None:
    result = run("calendar", "cn_office")
    assert result.exit_code == 5
    assert "known: none: add them under calendars: in opsflow.yaml" in result.stderr


def test_a_bad_month_is_a_usage_error(project: Project, run: Run) -> None:
    with_calendars(project)
    result = run("calendar", "cn_office", "--month", "2026-13")
    assert result.exit_code == 2
    assert "'2026-13' is not a month (YYYY-MM, e.g. 2026-02)" in result.stderr


def test_a_bad_calendar_in_the_configuration_is_reported(project: Project, run: Run) -> None:
    config = project.root / "opsflow.yaml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "calendars: {cn_office: {timezone: Asia/Beijing, hours: {mon-fri: '09:00-18:00'}}}\n",
        encoding="utf-8",
    )
    result = run("calendar", "cn_office")
    assert result.exit_code == 1
    assert "calendars.cn_office.timezone: 'Asia/Beijing' is not a time zone" in result.stderr


def test_help_lists_the_command(run: Run) -> None:
    result = run("--help")
    assert "calendar" in result.stdout
    assert "opsflow calendar cn_office --month 2026-02" in run("calendar", "--help").stdout
