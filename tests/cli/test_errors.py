"""How the CLI reports errors: each text once, on stderr, with the error's exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from opsflow.cli.errors import said

Run = Callable[..., Result]


def test_a_bad_value_is_printed_once(run: Run) -> None:
    result = run("--as", "rita", "start", "expense", "--set", "title=T", "--set", "amount=abc")
    assert result.exit_code == 65
    assert result.stderr == "error: field 'amount': must be a number (got 'abc')\n"


def test_a_value_out_of_range_is_printed_once(run: Run) -> None:
    result = run("--as", "rita", "start", "expense", "--set", "title=T", "--set", "amount=-5")
    assert result.exit_code == 65
    assert result.stderr == "error: field 'amount': must be >= 0\n"


def test_a_bad_value_from_a_data_file_is_printed_once(run: Run, tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"title": "T", "amount": -5}), encoding="utf-8")
    result = run("--as", "rita", "start", "expense", "--data", str(data))
    assert result.exit_code == 65
    assert result.stderr == "error: field 'amount': must be >= 0\n"


def test_several_problems_are_listed_under_one_message(run: Run) -> None:
    result = run(
        "--as", "rita", "start", "expense", "--set", "amount=abc", "--set", "count=x"
    )  # fmt: skip
    assert result.exit_code == 65
    assert result.stderr == (
        "error: invalid data\n"
        "  - field 'amount': must be a number (got 'abc')\n"
        "  - field 'count': must be an integer (got 'x')\n"
    )


def test_json_keeps_every_reason(run: Run) -> None:
    result = run(
        "--as", "rita", "start", "expense", "--set", "amount=abc", "--json"
    )  # fmt: skip
    assert result.exit_code == 65
    doc = json.loads(result.stdout)
    assert doc["message"] == "field 'amount': must be a number (got 'abc')"
    assert doc["reasons"] == ["field 'amount': must be a number (got 'abc')"]


@pytest.mark.parametrize(
    ("message", "reason", "expected"),
    [
        ("field 'a': must be a number", "field 'a': must be a number", True),
        ("metric 'm': param 'x': required; param 'y': too big", "param 'x': required", True),
        ("metric 'm': param 'x': required; param 'y': too big", "param 'y': too big", True),
        ("invalid data", "invalid", False),
        ("no transition from review", "review", False),
    ],
)
def test_said_matches_whole_clauses_only(message: str, reason: str, expected: bool) -> None:
    assert said(message, reason) is expected
