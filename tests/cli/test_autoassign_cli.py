"""Automatic assignment and delegation through the real CLI, on each backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from project_cli import TEAM, engine_workflows, run_cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOW = "2026-01-05T09:00:00Z"  # a Monday; ed is away from that day to Friday, lou covers
AFTER = "2026-01-10T09:00:00Z"


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    target = engine_workflows(tmp_path, "review", "desk")
    team = "".join(
        f"  {name}: {json.dumps(roles)}\n" for name, roles in TEAM.items() if name != "ed"
    )
    chat = json.dumps(str(tmp_path / "chat.jsonl"))
    (tmp_path / "opsflow.yaml").write_text(
        "team:\n"
        f"{team}"
        "  ed: {roles: [editor], delegate: {to: lou, from: 2026-01-05, until: 2026-01-09}}\n"
        f"channels:\n  chat: {{notifier: file, path: {chat}}}\n",
        encoding="utf-8",
    )
    return target


@pytest.fixture
def cli(db_url: str, workflows_dir: Path) -> Any:
    def run(*args: str, now: str = NOW) -> Result:
        return run_cli(db_url, workflows_dir, *args, env={"OPSFLOW_NOW": now})

    return run


def started(cli: Any, workflow: str, *events: str) -> str:
    result = cli("--as", "ann", "start", workflow, "--set", "title=稿件")
    assert result.exit_code == 0, result.output
    case_id: str = result.stdout.strip()
    for event in events:
        fired = cli("--as", "ann", "fire", case_id, event)
        assert fired.exit_code == 0, fired.output
    return case_id


def history(cli: Any, case_id: str) -> list[dict[str, Any]]:
    result = cli("history", case_id, "--json")
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def test_entering_an_assigning_state_assigns_the_case(cli: Any) -> None:
    first, second = started(cli, "desk", "submit"), started(cli, "desk", "submit")
    shown = [json.loads(cli("status", c, "--json").stdout)["assignee"] for c in (first, second)]
    assert shown == ["both", "ed"]
    entry = history(cli, first)[-1]
    assert (entry["kind"], entry["actor"], entry["detail"]) == (
        "assignment",
        "system",
        {"from": None, "to": "both", "left": "draft", "role": "editor", "policy": "round_robin"},
    )
    mine = cli("--as", "both", "inbox", "--mine", "--json")
    assert [c["id"] for c in json.loads(mine.stdout)] == [first]


def test_show_says_who_each_state_assigns(cli: Any) -> None:
    shown = cli("show", "desk")
    assert shown.exit_code == 0, shown.output
    rows: dict[str, str] = {}
    for line in shown.stdout.splitlines():  # the states' table comes before the transitions'
        if line.strip():
            rows.setdefault(line.split()[0], line)
    assert "ASSIGNS" in shown.stdout
    assert "editor (round_robin)" in rows["editing"]
    assert "legal (least_open)" in rows["legal"]
    assert "field reviewer" in rows["review"]


def test_the_delegate_acts_for_the_delegator_between_the_dates(cli: Any) -> None:
    case_id = started(cli, "review", "submit")
    inbox = cli("--as", "lou", "inbox", "--json")
    assert case_id in [c["id"] for c in json.loads(inbox.stdout)]
    fired = cli("--as", "lou", "fire", case_id, "approve", "--json")
    assert fired.exit_code == 0, fired.output
    assert json.loads(fired.stdout)["case"]["state"] == "scheduled"
    entry = history(cli, case_id)[-1]
    assert (entry["actor"], entry["event"], entry["detail"]) == (
        "lou",
        "approve",
        {"on_behalf_of": "ed"},
    )


def test_after_the_dates_the_delegate_has_only_their_own_roles(cli: Any) -> None:
    case_id = started(cli, "review", "submit")
    before = history(cli, case_id)
    inbox = cli("--as", "lou", "inbox", "--json", now=AFTER)
    assert case_id not in [c["id"] for c in json.loads(inbox.stdout)]
    fired = cli("--as", "lou", "fire", case_id, "approve", now=AFTER)
    assert fired.exit_code == 3, fired.output
    assert "roles: needs one of editor (lou has legal)" in fired.output
    after = history(cli, case_id)
    assert [e["kind"] for e in after] == [*(e["kind"] for e in before), "denied"]
    status = json.loads(cli("status", case_id, "--json").stdout)
    assert status["state"] == "review"


def test_validate_reports_assign_problems(cli: Any, workflows_dir: Path) -> None:
    shutil.copy(FIXTURES / "invalid" / "assign_shape.yaml", workflows_dir / "assign_shape.yaml")
    result = cli("validate")
    assert result.exit_code == 65, result.output
    path = workflows_dir / "assign_shape.yaml"
    assert (
        f"{path}:12:13: error: 'assign' of state 'review': give exactly one of 'role' "
        "(with a policy) or 'field'"
    ) in result.stdout.splitlines()
