"""Who may see what, and what admins may do, through the real CLI (on each backend).

The CLI trusts the local account (``--as``): a case its actor may not read answers as a
missing case (exit 5); with a team and ``admins:`` configured, retrying notifications,
verifying the audit and managing another person's tokens are for admins (exit 3).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from project_cli import run_cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOW = {"OPSFLOW_NOW": "2026-01-05T09:00:00Z"}


def _cli(db_url: str, workflows_dir: Path, admins: bool) -> Any:
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")

    def run(*args: str) -> Result:
        return run_cli(db_url, workflows_dir, *args, env=NOW)

    first = run("--as", "ann", "start", "hr", "--set", "title=pay rise")
    assert first.exit_code == 0, first.output
    if admins:
        config = workflows_dir.parent / "opsflow.yaml"
        config.write_text(config.read_text() + "admins: [dir]\n")
    run.case_id = first.stdout.strip()  # type: ignore[attr-defined]
    return run


@pytest.fixture
def cli(db_url: str, workflows_dir: Path) -> Any:
    return _cli(db_url, workflows_dir, admins=True)


def _entries(cli: Any) -> list[dict[str, Any]]:
    shown = cli("--as", "ann", "history", cli.case_id, "--json")
    assert shown.exit_code == 0, shown.output
    found: list[dict[str, Any]] = json.loads(shown.stdout)
    return found


def test_an_unreadable_case_answers_as_a_missing_one(cli: Any) -> None:
    case_id = cli.case_id
    assert cli("--as", "ann", "fire", case_id, "submit").exit_code == 0
    before = _entries(cli)
    missing = cli("--as", "ed", "status", "0" * 32)
    assert missing.exit_code == 5
    expected = missing.stderr.replace("0" * 32, case_id)
    for args in (
        ("status", case_id),
        ("history", case_id),
        ("fire", case_id, "approve"),
        ("fire", case_id, "approve", "--dry-run"),
        ("set", case_id, "title=x"),
        ("compute", case_id),
        ("graph", "hr", "--case", case_id),
    ):
        result = cli("--as", "ed", *args)
        assert result.exit_code == 5, (args, result.output)
        assert result.stderr == expected, args
    assert _entries(cli) == before  # nothing written, no denied entry
    listing = cli("--as", "ed", "cases", "--json")
    assert json.loads(listing.stdout) == []
    assert json.loads(cli("--as", "ed", "inbox", "--json").stdout) == []
    assert [c["id"] for c in json.loads(cli("--as", "lou", "cases", "--json").stdout)] == [case_id]
    assert cli("--as", "lou", "status", case_id).exit_code == 0
    assert cli("--as", "dir", "history", case_id).exit_code == 0


def test_outbox_retry_and_audit_verify_are_for_admins(cli: Any) -> None:
    refused = cli("--as", "ed", "outbox", "retry", "999")
    assert refused.exit_code == 3
    assert "only admins may retry notifications" in refused.stderr
    assert cli("--as", "dir", "outbox", "retry", "999").exit_code == 5  # past the check
    for beyond in ("2147483648", "9223372036854775808"):  # no id column holds it
        far = cli("--as", "dir", "outbox", "retry", beyond)
        assert far.exit_code == 2, far.output
        assert "2147483647" in far.stderr
        assert cli("--as", "dir", "incidents", "retry", beyond).exit_code == 2
    verify = cli("--as", "ed", "audit", "verify")
    assert verify.exit_code == 3
    assert "only admins may verify the audit" in verify.stderr
    ok = cli("--as", "dir", "audit", "verify", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True


def test_another_persons_tokens_are_for_admins(cli: Any) -> None:
    other = cli("--as", "ed", "token", "create", "--for", "ann")
    assert other.exit_code == 3
    assert "only admins may manage another person's tokens" in other.stderr
    own = cli("--as", "ann", "token", "create", "--for", "ann", "--json")
    assert own.exit_code == 0, own.output
    prefix = json.loads(own.stdout)["prefix"]
    assert cli("--as", "ed", "token", "revoke", prefix).exit_code == 3
    listed = json.loads(cli("token", "list", "--json").stdout)
    assert [t["status"] for t in listed] == ["active"]
    assert cli("--as", "dir", "token", "revoke", prefix).exit_code == 0
    by_admin = cli("--as", "dir", "token", "create", "--for", "ed", "--json")
    assert by_admin.exit_code == 0, by_admin.output


def test_without_admins_the_local_account_may_do_as_before(
    db_url: str, workflows_dir: Path
) -> None:
    cli = _cli(db_url, workflows_dir, admins=False)
    assert cli("--as", "ed", "audit", "verify").exit_code == 0
    assert cli("--as", "ed", "outbox", "retry", "999").exit_code == 5
    assert cli("--as", "ed", "token", "create", "--for", "ann").exit_code == 0
