"""``opsflow cases`` as a search: --where, --q, --assignee, repeated --state, times, sort,
limit and cursor, and --format table|json|csv (UTF-8 with a BOM), on both backends."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from project_cli import run_cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"


@pytest.fixture
def ops(db_url: str, tmp_path: Path) -> Any:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    for name in ("deals.yaml", "tickets.yaml"):
        shutil.copy(FIXTURES / name, workflows / name)

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return run_cli(db_url, workflows, "--as", "ann", *args, env=env)

    return run


@pytest.fixture
def cases(ops: Any) -> dict[str, str]:
    made = {}
    rows = [
        (
            "中文 标题",
            ["--set", "budget=20000", "--set", "notes=含有中文的备注", "--set", "kind=ad"],
        ),
        ("small", ["--set", "budget=50", "--set", "tags=a,b"]),
        ("=cmd|' /C calc'!A0", []),
        ("bare", []),
    ]
    for i, (title, sets) in enumerate(rows):
        env = {"OPSFLOW_NOW": f"2026-01-05T09:0{i}:00Z"}
        result = ops("start", "deals", "--set", f"title={title}", *sets, "--json", env=env)
        assert result.exit_code == 0, result.output
        made[title] = json.loads(result.stdout)["id"]
    return made


def listed(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [case["data"].get("title") for case in json.loads(result.stdout)]


def test_where_q_state_and_times(ops: Any, cases: dict[str, str]) -> None:
    assert listed(ops("cases", "--where", "budget > 10000", "--json")) == ["中文 标题"]
    assert set(listed(ops("cases", "--where", "not (budget > 10000)", "--json"))) == {
        "small",
        "=cmd|' /C calc'!A0",
        "bare",
    }
    assert listed(ops("cases", "--q", "中文", "--format", "json")) == ["中文 标题"]
    assert len(listed(ops("cases", "--state", "draft", "--state", "done", "--json"))) == 4
    assert listed(ops("cases", "--state", "done", "--json")) == []
    assert listed(ops("cases", "--created-before", "2026-01-05T09:01:00Z", "--json")) == [
        "中文 标题"
    ]
    assert listed(ops("cases", "--created-after", "2026-01-05T09:03", "--json")) == ["bare"]
    assert listed(ops("cases", "--assignee", "nobody", "--json")) == []
    oldest_first = listed(ops("cases", "--sort", "created_at", "--json"))
    assert oldest_first == ["中文 标题", "small", "=cmd|' /C calc'!A0", "bare"]


def test_limit_and_cursor_continue_a_listing(ops: Any, cases: dict[str, str]) -> None:
    first = ops("cases", "--limit", "3", "--json")
    assert len(listed(first)) == 3
    assert "--cursor" in first.stderr
    cursor = first.stderr.split("--cursor ")[1].split()[0]
    rest = ops("cases", "--cursor", cursor, "--json")
    assert listed(rest) == ["中文 标题"]
    assert "--cursor" not in rest.stderr


def test_csv_is_utf8_with_a_bom_and_round_trips_chinese(ops: Any, cases: dict[str, str]) -> None:
    result = ops("cases", "--sort", "created_at", "--format", "csv")
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header = rows[0]
    assert header[:6] == ["id", "workflow", "state", "assignee", "created_at", "updated_at"]
    assert {"title", "budget", "notes", "kind", "tags"} <= set(header)
    first = dict(zip(header, rows[1], strict=True))
    assert first["id"] == cases["中文 标题"]
    assert first["title"] == "中文 标题"
    assert first["notes"] == "含有中文的备注"
    assert first["budget"] == "20000"
    assert first["assignee"] == ""
    second = dict(zip(header, rows[2], strict=True))
    assert json.loads(second["tags"]) == ["a", "b"]
    third = dict(zip(header, rows[3], strict=True))
    assert third["title"] == "'=cmd|' /C calc'!A0"  # not a formula in a spreadsheet
    assert len(rows) == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "budgt > 5"], "unknown field 'budgt' (did you mean 'budget'?)"),
        (["--where", "__import__('os').system('id')"], "where compares fields with literals"),
        (["--where", "(" * 10_000 + "budget > 1" + ")" * 10_000], "too long"),
        (["--cursor", "garbage"], "invalid cursor"),
    ],
)
@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_a_bad_search_is_exit_2_with_one_line_and_nothing_on_stdout(
    ops: Any, cases: dict[str, str], args: list[str], message: str, fmt: str
) -> None:
    result = ops("cases", *args, "--format", fmt)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) <= 2  # the message (and a reason)


def test_a_bad_search_with_json_is_a_json_error(ops: Any, cases: dict[str, str]) -> None:
    result = ops("cases", "--where", "budgt > 5", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "invalid_query"


def test_option_mistakes_are_usage_errors(ops: Any, cases: dict[str, str]) -> None:
    assert ops("cases", "--created-after", "yesterday").exit_code == 2
    assert ops("cases", "--sort", "title").exit_code == 2
    assert ops("cases", "--json", "--format", "csv").exit_code == 2
    assert ops("cases", "--format", "xml").exit_code == 2


def test_table_in_a_100_column_terminal(ops: Any, cases: dict[str, str], monkeypatch: Any) -> None:
    from opsflow.cli import output

    monkeypatch.setattr(output, "is_terminal", lambda: True)
    result = ops("cases", "--where", "budget > 10", env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(output.display_width(line) <= 100 for line in lines), result.stdout
    text = result.stdout
    assert "中文 标题" in text
    assert cases["small"][:12] in text
    monkeypatch.undo()
    plain = ops("cases", "--where", "budget > 10")
    assert plain.stdout.splitlines()[0].split()[:4] == ["ID", "WORKFLOW", "STATE", "ASSIGNEE"]
    assert cases["small"] in plain.stdout
