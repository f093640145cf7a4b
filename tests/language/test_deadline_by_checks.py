"""``validate`` on SLAs that depend on the data (``within: {by: …}``) and on ``repeat``."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.language.loader import LoadContext, load_workflow_file

CONTEXT = LoadContext(channels=frozenset({"chat"}))

WORKFLOW = """\
workflow: incident
version: 1
fields:
  severity: {type: enum, values: [sev1, sev2, sev3]}
  title: {type: string}
states:
  open: {initial: true, sla: SLA}
  done: {final: true}
transitions:
  - {event: escalate, from: open, TARGET roles: [system]}
  - {event: finish, from: open, to: done}
"""


def diagnostics(tmp_path: Path, sla: str, target: str = "") -> list[str]:
    path = tmp_path / "incident.yaml"
    path.write_text(WORKFLOW.replace("SLA", sla).replace("TARGET", target), encoding="utf-8")
    _loaded, found = load_workflow_file(path, CONTEXT)
    return [f"{d.line}:{d.col}: {d.severity}: {d.message}" for d in found]


@pytest.mark.parametrize(
    "sla",
    [
        "{within: {by: severity, sev1: 30m, sev2: 4h, sev3: 2d}, fire: escalate}",
        "{within: {by: severity, sev1: 30m, else: 2d}, fire: escalate}",
        "{within: {by: severity, else: P2D}, fire: escalate, repeat: 1h}",
    ],
)
def test_a_covered_by_is_clean(tmp_path: Path, sla: str) -> None:
    assert diagnostics(tmp_path, sla) == []


@pytest.mark.parametrize(
    ("sla", "said"),
    [
        (
            "{within: {by: severity, sev1: 30m}, fire: escalate}",
            "7:44: error: sla of state 'open' gives no duration for 'sev2', 'sev3' of field "
            "'severity'; add them, or 'else: DURATION' for every value not listed",
        ),
        (
            "{within: {by: severity, sev1: 30m, sev4: 1h, else: 2d}, fire: escalate}",
            "7:65: error: sla of state 'open' gives a duration for 'sev4', which is not a "
            "value of field 'severity' (sev1, sev2, sev3) (did you mean 'sev3'?)",
        ),
        (
            "{within: {by: severity, sev1: soon, else: 2d}, fire: escalate}",
            "7:60: error: sla of state 'open', 'sev1': 'soon' is not a duration; use e.g. 30m, "
            "4h, 2d, 1w, 1d12h or ISO 8601 like P2DT4H",
        ),
        (
            "{within: {by: severty, else: 2d}, fire: escalate}",
            "7:44: error: sla of state 'open' depends on unknown field 'severty' "
            "(did you mean 'severity'?)",
        ),
        (
            "{within: {by: title, else: 2d}, fire: escalate}",
            "7:44: error: sla of state 'open' depends on field 'title', which is string; "
            "'by' needs an enum field, whose values each get a duration",
        ),
        (
            "{within: {sev1: 30m}, fire: escalate}",
            "7:39: error: 'sla.within' of state 'open': a 'within' that depends on the data "
            "names its field: {by: severity, sev1: 30m, sev2: 4h, else: 2d}",
        ),
        (
            "{within: {by: severity}, fire: escalate}",
            "7:39: error: 'sla.within' of state 'open': 'by: severity' gives no duration: "
            "{by: severity, sev1: 30m, sev2: 4h, else: 2d}",
        ),
        (
            "{within: {by: severity, sev1: 30}, fire: escalate}",
            "7:39: error: 'sla.within' of state 'open': the duration for 'sev1' is text like "
            "4h, not 30",
        ),
        (
            "{within: 2d, fire: escalate, repeat: often}",
            "7:67: error: repeat of the sla of state 'open': 'often' is not a duration; use e.g. "
            "30m, 4h, 2d, 1w, 1d12h or ISO 8601 like P2DT4H",
        ),
    ],
)
def test_a_by_or_repeat_that_does_not_hold_is_an_error(tmp_path: Path, sla: str, said: str) -> None:
    found = diagnostics(tmp_path, sla)
    assert found == [said]


def test_a_repeat_whose_event_always_leaves_is_warned_about(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "{within: 2d, fire: escalate, repeat: 1h}", "to: done,")
    assert found == [
        "7:67: warning: sla of state 'open' repeats, but every transition on 'escalate' from "
        "'open' leaves it, so it fires once; for a reminder, add an internal transition (no "
        "'to') on 'escalate' from 'open'"
    ]


def test_a_repeating_sla_that_re_enters_its_state_is_warned_about(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "{within: 2d, fire: escalate, repeat: 1h}", "to: open,")
    assert found == [
        "10:39: warning: transition 'escalate' re-enters state 'open', whose repeating sla "
        "fires it: each firing leaves 'open' and enters it again (on_exit and on_enter run, "
        "approvals and the assignee are cleared) and the sla is counted again from the start; "
        "if that is not meant, make it internal: remove 'to'"
    ]
