"""opsflow set --key: a data change happens once; the key reused with other input is exit 4."""

from __future__ import annotations

import json
from pathlib import Path

from project_cli import run_cli


def test_a_keyed_set_happens_once(db_url: str, workflows_dir: Path) -> None:
    started = run_cli(db_url, workflows_dir, "--as", "ann", "start", "review", "--set", "title=t")
    case_id = started.stdout.strip()
    args = ("--as", "ann", "set", case_id, "score=5", "--key", "score-5", "--json")
    first = run_cli(db_url, workflows_dir, *args)
    again = run_cli(db_url, workflows_dir, *args)
    assert first.exit_code == again.exit_code == 0, again.output
    assert json.loads(again.stdout)["data"]["score"] == 5
    history = json.loads(run_cli(db_url, workflows_dir, "history", case_id, "--json").stdout)
    assert [e["kind"] for e in history] == ["start", "data"]
    other = run_cli(
        db_url, workflows_dir, "--as", "ann", "set", case_id, "score=6", "--key", "score-5"
    )
    assert other.exit_code == 4
    assert "already used with different input" in other.stderr
    after = json.loads(run_cli(db_url, workflows_dir, "history", case_id, "--json").stdout)
    assert after == history
