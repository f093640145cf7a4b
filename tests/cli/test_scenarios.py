"""``opsflow test``: scenario files pass, fail and break the way SPEC §3.1 says."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

Run = Callable[..., Result]
Project = Any
FIXTURES = Path(__file__).parent.parent / "fixtures" / "cli"


def test_default_files_pass(run: Run) -> None:
    result = run("test")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "PASS expense: a claim goes from draft to paid" in lines
    assert "PASS expense: an overdue review reminds the manager" in lines
    assert lines[-1] == "4 passed, 0 failed"


def test_json_report(run: Run) -> None:
    result = run("test", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert set(doc) == {"passed", "failed", "cases"}
    assert doc["passed"] == 4
    assert doc["failed"] == 0
    assert set(doc["cases"][0]) == {"file", "workflow", "name", "passed", "failures"}


def test_failing_file_reports_fail_and_exits_1(run: Run, project: Project) -> None:
    path = project.root / "failing.test.yaml"
    shutil.copy(FIXTURES / "failing.test.yaml", path)
    result = run("test", str(path))
    assert result.exit_code == 1
    out = result.stdout
    assert "PASS expense: this one passes" in out
    assert "FAIL expense: this one expects the wrong state" in out
    assert "step 2 (line 12, fire approve as mia): expected state paid, got approved" in out
    assert "FAIL expense: this one has a misspelt key" in out
    assert "unknown key 'expct' (did you mean 'expect'?)" in out
    assert out.splitlines()[-1] == "1 passed, 2 failed"
    doc = json.loads(run("test", str(path), "--json").stdout)
    assert doc["failed"] == 2
    assert doc["cases"][1]["failures"][0].startswith("step 2 (line 12")


def test_unreadable_file_is_invalid_with_position(run: Run, project: Project) -> None:
    path = project.root / "broken.test.yaml"
    shutil.copy(FIXTURES / "broken.test.yaml", path)
    result = run("test", str(path))
    assert result.exit_code == 65
    assert f"{path}:5:5: error: unknown key 'strat' (did you mean 'start'?)" in result.stderr


def test_yaml_syntax_error_is_invalid(run: Run, project: Project) -> None:
    path = project.root / "syntax.test.yaml"
    path.write_text("workflow: expense\ncases: [\n", encoding="utf-8")
    result = run("test", str(path))
    assert result.exit_code == 65
    assert f"{path}:" in result.stderr


def test_no_scenario_files(run: Run, project: Project) -> None:
    shutil.rmtree(project.root / "workflows" / "tests")
    result = run("test")
    assert result.exit_code == 5
    assert "no scenario files" in result.stderr


def test_scenarios_touch_no_project_database(run: Run, project: Project) -> None:
    assert run("test").exit_code == 0
    assert not (project.root / "opsflow.db").exists()
    assert not (project.root / "notifications.jsonl").exists()


def test_standard_workflows_pass(run: Run, tmp_path: Path) -> None:
    templates = Path(__import__("opsflow").__file__).parent / "templates"
    config = templates / "opsflow.yaml"
    result = run("--config", str(config), "test")
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.stdout


NAG = """\
workflow: nag
version: 1
roles: [author, editor]
fields:
  title: {type: string, required: true}
  reminded: {type: integer, default: 0}
states:
  review:
    initial: true
    sla: {within: 1d, fire: remind}
    on_enter: [notify: {channel: chat, to: editor, message: "entered"}]
  done: {final: true}
transitions:
  - event: remind
    from: review
    roles: [system]
    do:
      - set: {reminded: "reminded + 1"}
      - notify: {channel: chat, to: editor, message: "reminder"}
  - {event: approve, from: review, to: done, roles: [editor]}
"""

NAG_SCENARIO = """\
workflow: nag
now: "2026-01-05T09:00:00+00:00"
team:
  ann: [author]
  ed: [editor]
cases:
  - name: the SLA reminds once and the case stays in review
    start: {as: ann, data: {title: Plan}}
    steps:
      - {advance: 25h, expect_notified: {channel: chat, to: editor, message_contains: reminder}}
      - {expect_state: review, expect_data: {reminded: 1}}
      - {advance: 3d, expect_no_notification: true}
      - {expect_data: {reminded: 1}}
      - {fire: approve, as: ed, expect: done}
"""


def test_a_scenario_with_an_internal_reminder(run: Run, project: Project) -> None:
    (project.root / "workflows" / "nag.yaml").write_text(NAG, encoding="utf-8")
    path = project.root / "nag.test.yaml"
    path.write_text(NAG_SCENARIO, encoding="utf-8")
    result = run("test", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "1 passed, 0 failed"
