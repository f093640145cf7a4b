"""``opsflow migrate`` through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result

Run = Callable[..., Result]
Project = Any


@pytest.fixture
def ops(run: Run, db_url: str) -> Run:
    """``run`` on the test database of this backend."""

    def invoke(*args: str) -> Result:
        return run("--db", db_url, *args)

    return invoke


@pytest.fixture
def two_cases(ops: Run) -> dict[str, str]:
    """An expense in review and one approved, both on version 1."""
    ids = {}
    for name in ("review", "approved"):
        started = ops("--as", "rita", "start", "expense", "--set", "title=T", "--set", "amount=9")
        assert started.exit_code == 0, started.output
        ids[name] = started.stdout.strip()
        assert ops("--as", "rita", "fire", ids[name], "submit").exit_code == 0
    assert ops("--as", "max", "fire", ids["approved"], "approve").exit_code == 0
    return ids


def bump(project: Project) -> None:
    """Version 2: 'approved' is renamed 'payable' and a 'cost_center' field comes."""
    path = project.root / "workflows" / "expense.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("version: 1", "version: 2").replace("approved", "payable")
    text = text.replace("  count:", "  cost_center: {type: string, default: ops}\n  count:")
    path.write_text(text, encoding="utf-8")


def test_refusal_names_the_cases_and_moves_nothing(
    ops: Run, project: Project, two_cases: dict[str, str]
) -> None:
    bump(project)
    refused = ops("migrate", "expense", "--to", "2")
    assert refused.exit_code == 4
    assert two_cases["approved"] in refused.stdout  # the table of refused cases
    assert refused.stderr.startswith("error: migration of 'expense' to version 2 refused")
    assert f"case {two_cases['approved']} in state 'approved'" in refused.stderr
    assert "Traceback" not in refused.stderr
    as_json = ops("migrate", "expense", "--to", "2", "--json")
    assert as_json.exit_code == 4
    doc = json.loads(as_json.stdout)
    assert doc["moved"] == []
    assert doc["error"] == "refused"
    assert doc["refused"] == [
        {
            "case": two_cases["approved"],
            "state": "approved",
            "reason": "version 2 has no state 'approved'; add --map approved=STATE",
        }
    ]
    listed = json.loads(ops("cases", "--json").stdout)
    assert {c["version"] for c in listed} == {1}


def test_dry_run_then_migrate_with_a_map(
    ops: Run, project: Project, two_cases: dict[str, str]
) -> None:
    bump(project)
    dry = ops("migrate", "expense", "--to", "2", "--map", "approved=payable", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would move 2 open case(s) of expense to version 2 (dry run" in dry.stdout
    assert {c["version"] for c in json.loads(ops("cases", "--json").stdout)} == {1}
    done = ops(
        "--as", "mia", "migrate", "expense", "--to", "2", "--map", "approved=payable", "--json"
    )
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["workflow"] == "expense"
    assert doc["to_version"] == 2
    assert doc["dry_run"] is False
    assert doc["refused"] == []
    assert sorted(doc["moved"], key=lambda m: m["to_state"]) == [
        {
            "case": two_cases["approved"],
            "from_version": 1,
            "from_state": "approved",
            "to_state": "payable",
        },
        {
            "case": two_cases["review"],
            "from_version": 1,
            "from_state": "review",
            "to_state": "review",
        },
    ]
    history = json.loads(ops("history", two_cases["approved"], "--json").stdout)
    last = history[-1]
    assert (last["kind"], last["actor"], last["event"]) == ("migration", "mia", None)
    assert (last["from"], last["to"]) == ("approved", "payable")
    assert last["detail"] == {"from_version": 1, "to_version": 2, "map": {"approved": "payable"}}
    assert last["data_changes"] == {"cost_center": {"from": None, "to": "ops"}}
    assert ops("audit", "verify").exit_code == 0
    status = json.loads(ops("status", two_cases["approved"], "--json").stdout)
    assert (status["version"], status["state"]) == (2, "payable")
    paid = ops("--as", "fin", "fire", two_cases["approved"], "pay", "--json")
    assert json.loads(paid.stdout)["outcome"] == "approval_recorded"
    again = ops("migrate", "expense", "--to", "2")
    assert again.exit_code == 0
    assert "moved 0 open case(s)" in again.stdout


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("migrate", "nope", "--to", "1"), 5, "no workflow 'nope'"),
        (("migrate", "expense", "--to", "9"), 5, "has no version 9"),
        (("migrate", "expense", "--to", "2", "--map", "approved"), 2, "is not OLD=NEW"),
        (("migrate", "expense", "--to", "2", "--map", "approved=limbo"), 2, "approved=limbo"),
        (("migrate", "expense", "--to", "zero"), 2, "'zero' is not a valid integer"),
        (("migrate", "expense"), 2, "Missing option '--to'"),
    ],
)
def test_bad_input_is_a_clean_error(
    ops: Run,
    project: Project,
    two_cases: dict[str, str],
    args: tuple[str, ...],
    code: int,
    fragment: str,
) -> None:
    bump(project)
    result = ops(*args)
    assert result.exit_code == code, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert {c["version"] for c in json.loads(ops("cases", "--json").stdout)} == {1}
