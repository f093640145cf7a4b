"""``validate`` warns about a timer whose event re-enters the timer's own state."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.language.loader import LoadContext, load_workflow_file

CONTEXT = LoadContext(channels=frozenset({"chat"}))

WORKFLOW = """\
workflow: nag
version: 1
fields:
  remind_at: {type: datetime}
states:
  open: {initial: true, timer: TIMER}
  done: {final: true}
transitions:
  - {event: remind, from: open, TARGET roles: [system]}
  - {event: finish, from: open, to: done}
"""


def _warnings(tmp_path: Path, timer: str, target: str) -> list[str]:
    path = tmp_path / "nag.yaml"
    path.write_text(WORKFLOW.replace("TIMER", timer).replace("TARGET", target), encoding="utf-8")
    loaded, diagnostics = load_workflow_file(path, CONTEXT)
    assert loaded is not None
    return [f"{d.line}:{d.col}: {d.severity}: {d.message}" for d in diagnostics]


def _to(state: str) -> str:
    return f"to: {state}," if state else ""


@pytest.mark.parametrize(
    ("timer", "how"),
    [
        ("{at: remind_at, fire: remind}", "it fires once per moment of 'remind_at'"),
        ("{after: 3d, fire: remind}", "it is armed again and fires every 3d"),
    ],
)
def test_a_timer_event_that_re_enters_its_state_is_warned_about(
    tmp_path: Path, timer: str, how: str
) -> None:
    assert _warnings(tmp_path, timer, _to("open")) == [
        "9:37: warning: transition 'remind' re-enters state 'open', whose timer fires it: "
        "each firing leaves 'open' and enters it again (on_exit and on_enter run, approvals "
        f"and the assignee are cleared) and {how}; if that is not meant, make it internal: "
        "remove 'to'"
    ]


def test_a_timer_event_that_moves_the_case_on_is_not(tmp_path: Path) -> None:
    assert _warnings(tmp_path, "{at: remind_at, fire: remind}", _to("done")) == []


@pytest.mark.parametrize("timer", ["{at: remind_at, fire: remind}", "{after: 3d, fire: remind}"])
def test_an_internal_timer_event_is_not(tmp_path: Path, timer: str) -> None:
    assert _warnings(tmp_path, timer, "") == []
