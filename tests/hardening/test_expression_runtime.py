"""Expression bombs evaluated at run time through the engine and the CLI (SPEC §2.6, §6).

The guard or ``set`` is fine when the workflow loads; only the case's own values make it
explode. Each is refused at evaluation, quickly and without a big allocation, with a
plain message and the right exit code, and the case is left exactly as it was.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from opsflow.cli import cli

BOMBS = """\
workflow: bomb
version: 1
roles: [author]
fields:
  title: {type: string}
  n: {type: integer}
  amount: {type: integer}
  out: {type: text}
  items: {type: list}
states:
  draft: {initial: true}
  done: {final: true}
transitions:
  - {event: power, from: draft, to: done, when: "amount ** amount ** amount > 0"}
  - {event: power_set, from: draft, to: done, do: [{set: {n: "amount ** amount ** amount"}}]}
  - {event: grow, from: draft, to: done, do: [{set: {out: "title * n"}}]}
  - {event: lists, from: draft, to: done, do: [{set: {items: "items * n"}}]}
  - {event: nested, from: draft, to: done, when: "len(items * n * n) > 0"}
  - {event: concat, from: draft, to: done, do: [{set: {out: "out + out + out"}}]}
"""
START = [
    "--set",
    "title=abcdefghij",
    "--set",
    "n=100000000",
    "--set",
    "amount=99",
    "--set",
    "items=a,b,c",
    "--set",
    "out=" + "x" * 40_000,
]


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "bomb.yaml").write_text(BOMBS)
    (tmp_path / "opsflow.yaml").write_text("team: {ann: [author]}\n")
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, ["--as", "ann", *args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("event", "code", "message"),
    [
        ("power", 4, "exponent too large (limit 100)"),
        ("power_set", 65, "exponent too large (limit 100)"),
        ("grow", 65, "string too long (limit 100,000)"),
        ("lists", 65, "list too long (limit 100,000)"),
        ("nested", 4, "list too long (limit 100,000)"),
        ("concat", 65, "string too long (limit 100,000)"),
    ],
)
def test_a_bomb_is_refused_and_the_case_is_unchanged(
    invoke: CliRunner, event: str, code: int, message: str
) -> None:
    case_id = _run(invoke, "start", "bomb", *START).stdout.strip()
    before = json.loads(_run(invoke, "status", case_id, "--json").stdout)
    history = json.loads(_run(invoke, "history", case_id, "--json").stdout)

    tracemalloc.start()
    started = time.perf_counter()
    result = _run(invoke, "fire", case_id, event)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert elapsed < 5
    assert peak < 64 * 1024 * 1024
    after = json.loads(_run(invoke, "status", case_id, "--json").stdout)
    assert (after["state"], after["data"]) == (before["state"], before["data"])
    kinds = [e["kind"] for e in json.loads(_run(invoke, "history", case_id, "--json").stdout)]
    # a refused guard may be audited as `denied`; nothing else is written
    assert kinds[: len(history)] == [e["kind"] for e in history]
    assert set(kinds[len(history) :]) <= {"denied"}
