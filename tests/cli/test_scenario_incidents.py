"""Scenario tests report failed automation at the step where it failed."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

Run = Callable[..., Result]

NUDGE = """\
workflow: nudge
version: 1
roles: [owner]
fields:
  title: {type: string, required: true}
  ready: {type: boolean, default: false}
states:
  open:
    initial: true
    timer: {after: 1d, fire: expire}
  closed: {final: true}
transitions:
  - {event: expire, from: open, to: closed, roles: [system], when: "ready"}
  - {event: bump, from: open, to: open, roles: [owner], do: [{fire: close}]}
  - {event: close, from: open, to: closed, roles: [owner], when: "ready"}
"""


@pytest.fixture
def nudge(project: Any) -> Path:
    (project.root / "workflows" / "nudge.yaml").write_text(NUDGE, encoding="utf-8")
    return Path(project.root)


def _case(run: Run, root: Path, steps: str) -> dict[str, Any]:
    head = (
        "workflow: nudge\nteam: {olga: [owner]}\ncases:\n"
        "  - name: probe\n    start: {as: olga, data: {title: t}}\n    steps:\n"
    )
    path = root / "nudge.test.yaml"
    path.write_text(head + textwrap.indent(textwrap.dedent(steps), " " * 6), encoding="utf-8")
    result = run("test", str(path), "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["cases"][0]


def test_a_failing_timer_fails_the_advance_step(run: Run, nudge: Path) -> None:
    found = _case(run, nudge, "- {advance: 2d}\n- {expect_state: open}\n")
    assert found["passed"] is False
    (failure,) = found["failures"]
    assert failure.startswith("step 1 (line 7, advance 2d): automation failed: timer 'expire'")
    assert "when: 'ready' is false" in failure


def test_a_refused_fire_action_fails_its_own_step(run: Run, nudge: Path) -> None:
    found = _case(run, nudge, "- {fire: bump, as: olga, expect: open}\n- {expect_state: open}\n")
    (failure,) = found["failures"]
    assert failure.startswith("step 1 (line 7, fire bump as olga): automation failed: ")
    assert "fire action 'close' failed" in failure


def test_expected_failed_automation_passes_and_is_checked(run: Run, nudge: Path) -> None:
    ok = _case(run, nudge, "- {advance: 2d, expect_incident: \"'ready' is false\"}\n")
    assert ok["passed"] is True, ok["failures"]
    wrong = _case(run, nudge, "- {advance: 2d, expect_incident: missing source}\n")
    assert wrong["failures"][0].endswith(
        "expected failed automation mentioning 'missing source'; timer 'expire' failed: "
        + wrong["failures"][0].split("timer 'expire' failed: ", 1)[1]
    )
    none = _case(run, nudge, "- {set: {ready: true}, expect_incident: x}\n")
    assert none["failures"][0].endswith(
        "expected failed automation mentioning 'x'; no automation failed"
    )
