"""The scenario runner's expectations: notifications, data, metrics, errors, time."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from opsflow.scenarios import same_value

Run = Callable[..., Result]
Project = Any
HEAD = """\
workflow: expense
team: {rita: [requester], mia: [manager], fin: [finance], fay: [finance]}
cases:
  - name: probe
    start: {as: rita, data: {title: Taxi, amount: 40}}
    steps:
"""


def run_steps(run: Run, root: Path, steps: str) -> dict[str, Any]:
    path = root / "probe.test.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(steps), " " * 6), encoding="utf-8")
    result = run("test", str(path), "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["cases"][0]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            "- {fire: submit, expect_notified: {channel: chat}}\n",
            "expected a notification {channel: chat}; the step wrote nothing",
        ),
        (
            "- {fire: submit}\n- {fire: approve, as: mia, expect_no_notification: true}\n",
            "expected no notification; the step wrote chat -> ",
        ),
        (
            "- {fire: submit}\n- {fire: approve, as: mia, expect_notified: []}\n",
            "expected no notification (expect_notified: []); it wrote chat -> finance: ",
        ),
        (
            "- {fire: submit, expect_notified: {}}\n",
            "expected a notification {}; the step wrote nothing",
        ),
        (
            "- {fire: submit}\n"
            "- {fire: approve, as: mia, expect_notified: {to: finance, message_contains: Bus}}\n",
            "expected a notification {to: finance, message_contains: Bus}",
        ),
        ("- {fire: submit, expect_error: refused}\n", "expected error refused, but it succeeded"),
        (
            "- {fire: submit}\n- {fire: approve, as: rita, expect_error: refused}\n",
            "expected error refused, got not_permitted: ",
        ),
        (
            "- {fire: approve, as: rita, expect: review}\n",
            "expected state review, got error refused: ",
        ),
        ("- {expect_data: {amount: 41}}\n", "expected amount = 41, got 40"),
        (
            "- {set: {spent: 10}}\n- {compute: [spend_ratio], expect_metrics: {spend_ratio: 1}}\n",
            "expected metric spend_ratio = 1, got 0.25",
        ),
        ("- {advance: soon}\n", "unexpected error invalid: advance: "),
        (
            "- {fire: submit, expect_outcome: approval_recorded}\n",
            "expected outcome approval_recorded, got transitioned",
        ),
        (
            "- {expect_state: draft, fire: submit, set: {note: x}}\n",
            "a step does one thing, got fire and set",
        ),
        (
            "- {fire: submit, expect_notified: {chanel: chat}}\n",
            "expect_notified: unknown key 'chanel' (did you mean 'channel'?)",
        ),
        ("- {expect: draft}\n", "'expect' belongs to a fire, set or compute step"),
        ("- {expect_assignee: mia}\n", "expected assignee mia, got nobody"),
        ("- {expect_assignee: [mia]}\n", "expect_assignee names one person (null: nobody)"),
    ],
)
def test_failures_say_what_was_expected(
    run: Run, project: Project, steps: str, message: str
) -> None:
    case = run_steps(run, project.root, steps)
    assert case["passed"] is False
    assert any(message in failure for failure in case["failures"]), case["failures"]


def test_passing_probe(run: Run, project: Project) -> None:
    case = run_steps(
        run,
        project.root,
        """\
        - {fire: submit, comment: go, expect: review, expect_outcome: transitioned,
           expect_notified: []}
        - {set: {spent: 10}, expect_data: {spent: 10.0, title: Taxi}}
        - {compute: spend_ratio, expect_metrics: {spend_ratio: 0.25}}
        - {advance: 2d, expect_notified: [{channel: chat, to: manager}]}
        - {expect_state: review, expect_no_notification: true}
        - {fire: approve, as: mia, expect: approved, expect_notified: {to: fin}}
        - {fire: pay, as: fin, expect_outcome: approval_recorded}
        - {fire: pay, as: fay, expect: paid}
        """,
    )
    assert case["failures"] == []
    assert case["passed"] is True


def test_a_failing_start_fails_the_case(run: Run, project: Project) -> None:
    path = project.root / "start.test.yaml"
    path.write_text(
        "workflow: nope\nteam: {a: [x]}\ncases:\n  - name: n\n    start: {as: a}\n"
        "    steps: [{expect_state: draft}]\n",
        encoding="utf-8",
    )
    result = run("test", str(path))
    assert result.exit_code == 1
    assert "start failed: no workflow 'nope'" in result.stdout


def test_same_value() -> None:
    assert same_value(0.1 + 0.2, 0.3)
    assert same_value({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not same_value(True, 1)
    assert not same_value(1, 2)
    assert same_value("1234.50", 1234.5)
