"""``opsflow bulk fire`` through the real CLI, on both backends."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from opsflow_process import clean_env
from project_cli import run_cli

NOW = "2026-01-05T09:00:00+00:00"
MISSING = "0" * 32


@pytest.fixture
def engine(make_engine: Callable[..., Any]) -> Any:
    return make_engine()


@pytest.fixture
def bulk(db_url: str, workflows_dir: Path) -> Callable[..., Result]:
    """``opsflow --as ACTOR bulk fire ARGS`` in-process on the test database."""

    def invoke(actor: str, *args: str, input: str | None = None) -> Result:
        env = {"OPSFLOW_NOW": NOW}
        return run_cli(
            db_url, workflows_dir, "--as", actor, "bulk", "fire", *args, env=env, input=input
        )

    return invoke


def _in_review(engine: Any, by: str = "ann", **data: Any) -> str:
    case = engine.start("review", {"title": "t", **data}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def _lengths(engine: Any, ids: list[str]) -> list[int]:
    return [len(engine.history(i)) for i in ids]


def test_every_case_done_exits_0_with_a_table_and_counts(engine: Any, bulk: Any) -> None:
    ids = [_in_review(engine), _in_review(engine)]
    result = bulk("ed", "approve", *ids, "--comment", "LGTM")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CASE", "STATUS", "STATE", "WHAT", "HAPPENED"]
    assert all(any(i in line and "review -> scheduled" in line for line in lines) for i in ids)
    assert lines[-1] == "2 done (2 case(s))"
    assert "firing" not in result.stderr  # no progress bar off a terminal
    assert [engine.get(i).state for i in ids] == ["scheduled", "scheduled"]
    assert engine.history(ids[0])[-1].comment == "LGTM"


def test_mixed_outcomes_exit_4_and_each_is_reported(engine: Any, bulk: Any) -> None:
    ok = _in_review(engine)
    four_eyes = _in_review(engine, by="both")
    draft = engine.start("review", {"title": "t"}, actor="ann").id
    result = bulk("both", "approve", ok, four_eyes, "--case", draft, "--case", MISSING)
    assert result.exit_code == 4, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:-1]}
    assert "done" in rows[ok]
    assert "not permitted" in rows[four_eyes]
    assert "four-eyes" in rows[four_eyes]
    assert "refused" in rows[draft]
    assert "not found" in rows[MISSING]
    assert result.stdout.splitlines()[-1] == (
        "1 done, 1 not permitted, 1 refused, 1 not found (4 case(s))"
    )
    assert engine.get(ok).state == "scheduled"
    assert engine.get(four_eyes).state == "review"


def test_json_is_one_document_and_keeps_the_exit_code(engine: Any, bulk: Any) -> None:
    ok = _in_review(engine)
    draft = engine.start("review", {"title": "t"}, actor="ann").id
    result = bulk("ed", "approve", ok, draft, "--json")
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert set(doc) == {"event", "dry_run", "total", "counts", "results"}
    assert doc["total"] == 2
    assert doc["counts"]["done"] == 1
    assert doc["counts"]["refused"] == 1
    assert doc["results"][0] == {
        "case": ok,
        "status": "done",
        "outcome": "transitioned",
        "state": "scheduled",
        "from": "review",
    }
    assert doc["results"][1]["error"]["code"] == "refused"
    all_done = bulk("ed", "cancel", ok, "--json")
    assert all_done.exit_code == 0
    assert json.loads(all_done.stdout)["counts"]["done"] == 1


def test_dry_run_writes_nothing(engine: Any, bulk: Any) -> None:
    ids = [_in_review(engine), _in_review(engine)]
    before = _lengths(engine, ids)
    result = bulk("ed", "approve", *ids, "--dry-run", "--set", "budget=12")
    assert result.exit_code == 0, result.output
    assert "would go review -> scheduled" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "dry run: 2 would be done (2 case(s)); nothing was written"
    )
    assert _lengths(engine, ids) == before
    assert [engine.get(i).state for i in ids] == ["review", "review"]
    assert "budget" not in engine.get(ids[0]).data


def test_set_values_are_parsed_by_field_type(engine: Any, bulk: Any) -> None:
    ids = [_in_review(engine), _in_review(engine)]
    result = bulk("ed", "approve", *ids, "--set", "score=95", "--set", "claims=false")
    assert result.exit_code == 0, result.output
    assert [engine.get(i).data["score"] for i in ids] == [95, 95]
    bad = bulk("ed", "cancel", *ids, "--set", "score=lots")
    assert bad.exit_code == 4
    assert bad.stdout.count("field 'score': must be an integer") == 2
    assert bad.stdout.splitlines()[-1] == "2 invalid (2 case(s))"
    assert [engine.get(i).state for i in ids] == ["scheduled", "scheduled"]


def test_more_than_10000_cases_is_a_usage_error_with_the_count(engine: Any, bulk: Any) -> None:
    case_id = _in_review(engine)
    ids = [case_id] + [uuid.uuid4().hex for _ in range(10_000)]
    result = bulk("ed", "approve", *ids)
    assert result.exit_code == 2
    assert "10,001 cases" in result.stderr
    assert result.stdout == ""
    assert engine.get(case_id).state == "review"
    assert len(engine.history(case_id)) == 2


def test_a_key_replays_the_cases_done(engine: Any, bulk: Any) -> None:
    ids = [_in_review(engine), _in_review(engine)]
    first = bulk("ed", "approve", *ids, "--key", "batch-7", "--json")
    assert first.exit_code == 0, first.output
    lengths = _lengths(engine, ids)
    again = bulk("ed", "approve", *ids, "--key", "batch-7", "--json")
    assert again.exit_code == 0, again.output
    assert [r["outcome"] for r in json.loads(again.stdout)["results"]] == ["replayed"] * 2
    assert "replayed (done before)" in bulk("ed", "approve", ids[0], "--key", "batch-7").stdout
    assert _lengths(engine, ids) == lengths


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name the cases"),
        (("--workflow", "review", MISSING), "not both"),
        (("--workflow", "review", "--open", "--closed"), "exclude each other"),
        ((MISSING, "--set", "novalue"), "FIELD=VALUE"),
    ],
)
def test_usage_errors_exit_2_and_change_nothing(
    engine: Any, bulk: Any, args: tuple[str, ...], message: str
) -> None:
    case_id = _in_review(engine)
    result = bulk("ed", "approve", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(engine.history(case_id)) == 2


def test_a_stranger_exits_3(engine: Any, bulk: Any) -> None:
    case_id = _in_review(engine)
    result = bulk("mallory", "approve", case_id)
    assert result.exit_code == 3
    assert "not in this project's team" in result.stderr
    assert len(engine.history(case_id)) == 2


def test_sql_metacharacters_and_chinese(engine: Any, bulk: Any) -> None:
    ids = [_in_review(engine), _in_review(engine)]
    comment = "通过'; DROP TABLE cases; --"
    result = bulk("ed", "approve", *ids, "--comment", comment, "--set", 'title=标题"; --')
    assert result.exit_code == 0, result.output
    assert [engine.history(i)[-1].comment for i in ids] == [comment, comment]
    assert engine.get(ids[0]).data["title"] == '标题"; --'
    odd = bulk("ed", "批准' OR 1=1; --", *ids, "--json")
    assert odd.exit_code == 4
    doc = json.loads(odd.stdout)
    assert doc["event"] == "批准' OR 1=1; --"
    assert doc["counts"]["not_found"] == 2
    assert len(engine.cases()) == 2


def test_confirmation_on_a_terminal(
    engine: Any, bulk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsflow.cli import identity, output

    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setattr(identity, "stdin_is_terminal", lambda: True)
    ids = [_in_review(engine), _in_review(engine)]
    declined = bulk("ed", "approve", *ids, ids[0], input="n\n")
    assert declined.exit_code == 1
    assert "Fire 'approve' on 2 case(s)?" in declined.output
    assert [engine.get(i).state for i in ids] == ["review", "review"]
    accepted = bulk("ed", "approve", *ids, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert [engine.get(i).state for i in ids] == ["scheduled", "scheduled"]
    unasked = bulk("ed", "cancel", *ids, "--yes")
    assert unasked.exit_code == 0
    assert "Fire" not in unasked.output


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run opsflow with stdin, stdout and stderr on a pseudo-terminal; (exit code, output)."""
    controller, terminal = pty.openpty()
    env = clean_env({"OPSFLOW_NOW": NOW, "COLUMNS": "100", "TERM": "xterm"})
    child = subprocess.Popen(
        [sys.executable, "-m", "opsflow", *args],
        cwd=cwd,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return child.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal(engine: Any, db_url: str, workflows_dir: Path) -> None:
    ids = [_in_review(engine) for _ in range(3)]
    run_cli(db_url, workflows_dir, "workflows")  # writes opsflow.yaml beside the workflows
    base = ["--db", db_url, "--workflows", str(workflows_dir)]
    base += ["--config", str(workflows_dir.parent / "opsflow.yaml"), "--as", "ed", "bulk", "fire"]
    code, shown = _on_a_terminal([*base, "approve", *ids, "--dry-run"], workflows_dir.parent)
    assert code == 0, shown
    assert "firing" in shown
    assert "3/3" in shown
    assert "would go review -> scheduled" in shown
    code, shown = _on_a_terminal(
        [*base, "approve", *ids, "--dry-run", "--json"], workflows_dir.parent
    )
    assert code == 0, shown
    assert "firing" not in shown
    piped = subprocess.run(
        [sys.executable, "-m", "opsflow", *base, "approve", *ids, "--dry-run"],
        cwd=workflows_dir.parent,
        env=clean_env({"OPSFLOW_NOW": NOW}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    assert "firing" not in piped.stderr + piped.stdout
    assert [engine.get(i).state for i in ids] == ["review"] * 3


def test_a_filter_selects_the_cases(engine: Any, bulk: Any) -> None:
    dear = [_in_review(engine, budget=50_000), _in_review(engine, budget=20_000)]
    cheap = _in_review(engine, budget=10)
    draft = engine.start("review", {"title": "t", "budget": 90_000}, actor="ann").id
    filters = ("--workflow", "review", "--state", "review", "--where", "budget > 10000")
    result = bulk("ed", "approve", *filters, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(r["case"] for r in json.loads(result.stdout)["results"]) == sorted(dear)
    assert engine.get(cheap).state == "review"
    assert engine.get(draft).state == "draft"
    several = bulk("ed", "cancel", "--state", "review", "--state", "draft", "--open")
    assert several.exit_code == 0, several.output
    assert several.stdout.splitlines()[-1] == "2 done (2 case(s))"
    nothing = bulk("ed", "cancel", "--open", "--q", "没有")
    assert nothing.exit_code == 0
    assert "no cases match" in nothing.stderr
    bad = bulk("ed", "cancel", "--where", "title.upper() == 'X'")
    assert bad.exit_code == 2
    assert bad.stdout == ""
