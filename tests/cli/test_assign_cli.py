"""opsflow assign, unassign and claim through the real CLI, on each backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from project_cli import run_cli


@pytest.fixture
def cli(db_url: str, workflows_dir: Path) -> Any:
    def run(*args: str) -> Result:
        return run_cli(db_url, workflows_dir, *args, env={"OPSFLOW_NOW": "2026-01-05T09:00:00Z"})

    first = run("--as", "ann", "start", "review", "--set", "title=稿件")
    assert first.exit_code == 0, first.output
    config = workflows_dir.parent / "opsflow.yaml"
    config.write_text(config.read_text() + "admins: [dir]\n")
    run.case_id = first.stdout.strip()  # type: ignore[attr-defined]
    return run


def history(cli: Any) -> list[dict[str, Any]]:
    result = cli("history", cli.case_id, "--json")
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def test_assign_prints_the_assignee_and_json_is_the_case(cli: Any) -> None:
    result = cli("--as", "ann", "assign", cli.case_id, "ed")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{cli.case_id} assigned to ed\n"
    shown = cli("--as", "ann", "status", cli.case_id, "--json")
    assert json.loads(shown.stdout)["assignee"] == "ed"
    again = cli("--as", "ed", "unassign", cli.case_id[:8], "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["assignee"] is None
    entries = history(cli)
    assert [e["kind"] for e in entries] == ["start", "assignment", "assignment"]
    assert entries[1]["detail"] == {"from": None, "to": "ed"}
    assert entries[2]["actor"] == "ed"
    table = cli("history", cli.case_id)
    lines = [line.split() for line in table.stdout.splitlines()]
    assert [line[-3:] for line in lines if "assignment" in line] == [
        ["nobody", "->", "ed"],
        ["ed", "->", "nobody"],
    ]


def test_status_cases_and_inbox_show_the_assignee(cli: Any) -> None:
    assert cli("--as", "ann", "claim", cli.case_id).exit_code == 0
    status = cli("--as", "ann", "status", cli.case_id)
    assert "assignee: ann" in status.stdout
    listing = cli("cases")
    assert "ASSIGNEE" in listing.stdout
    assert "ann" in listing.stdout.splitlines()[1]
    inbox = cli("--as", "ann", "inbox")
    assert "ASSIGNEE" in inbox.stdout
    assert json.loads(cli("cases", "--json").stdout)[0]["assignee"] == "ann"


def test_claim_over_someone_else_is_exit_6_and_force_is_for_admins(cli: Any) -> None:
    assert cli("--as", "ann", "fire", cli.case_id, "submit").exit_code == 0
    assert cli("--as", "ed", "claim", cli.case_id).exit_code == 0
    before = history(cli)
    taken = cli("--as", "eve", "claim", cli.case_id)
    assert taken.exit_code == 6
    assert "assigned to 'ed'" in taken.stderr
    forced = cli("--as", "eve", "claim", cli.case_id, "--force")
    assert forced.exit_code == 3
    assert "only an admin may force a claim" in forced.stderr
    assert history(cli) == before
    admin = cli("--as", "dir", "claim", cli.case_id, "--force", "--json")
    assert admin.exit_code == 0, admin.output
    assert json.loads(admin.stdout)["assignee"] == "dir"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--as", "ann", "assign", "CASE", "nobody-here"), 65, "not in this project's team"),
        (("--as", "ann", "assign", "CASE", "tester"), 65, "holds no role"),
        (("--as", "lou", "assign", "CASE", "ed"), 3, "may not change who"),
        (("--as", "ann", "assign", "abc", "ed"), 2, "too short"),
        (("--as", "ann", "claim", "'; DROP TABLE cases;--"), 5, "no case"),
        (("--as", "ann", "assign", "0" * 32, "ed"), 5, "no case"),
    ],
)
def test_refusals_have_their_exit_code_and_change_nothing(
    cli: Any, args: tuple[str, ...], code: int, message: str
) -> None:
    before = history(cli)
    result = cli(*(cli.case_id if a == "CASE" else a for a in args))
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert history(cli) == before


def test_a_closed_case_cannot_be_assigned(cli: Any) -> None:
    assert cli("--as", "ed", "fire", cli.case_id, "cancel").exit_code == 0
    result = cli("--as", "ed", "assign", cli.case_id, "ed")
    assert result.exit_code == 4
    assert "closed" in result.stderr
