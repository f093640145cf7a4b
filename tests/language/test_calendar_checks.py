"""The calendars a workflow's deadlines count on: known names, no weeks, data gaps warned."""

from __future__ import annotations

from opsflow.language.loader import LoadContext, load_workflow_text

WORKFLOW = """\
workflow: w
version: 1
calendar: {default}
states:
  review: {{initial: true, sla: {{within: {within}, fire: late{own}}}}}
  waiting: {{timer: {{after: 2w, fire: late, calendar: none}}}}
  done: {{final: true}}
transitions:
  - {{event: late, from: [review, waiting], to: done, roles: [system]}}
  - {{event: wait, from: review, to: waiting, roles: [system]}}
"""


def diagnostics(
    ctx: LoadContext, default: str = "office", within: str = "16h", own: str = ""
) -> list[tuple[str, str]]:
    text = WORKFLOW.format(default=default, within=within, own=own)
    _loaded, found = load_workflow_text(text, "w.yaml", ctx)
    return [(d.severity, d.message) for d in found]


OFFICE = LoadContext(calendars=frozenset({"office", "berlin"}))


def test_a_known_calendar_passes_and_none_opts_out() -> None:
    assert diagnostics(OFFICE) == []
    assert diagnostics(OFFICE, own=", calendar: none") == []
    assert diagnostics(OFFICE, own=", calendar: berlin") == []
    assert diagnostics(LoadContext(), default="anything") == []  # names not checked


def test_an_unknown_calendar_is_an_error_with_a_suggestion() -> None:
    (found,) = diagnostics(OFFICE, default="ofice")
    assert found == (
        "error",
        "the workflow's calendar counts on unknown calendar 'ofice' (did you mean 'office'?) "
        "(known: berlin, office)",
    )
    (found,) = diagnostics(OFFICE, own=", calendar: berlni")
    assert found[0] == "error"
    assert "sla of state 'review' counts on unknown calendar 'berlni'" in found[1]


def test_a_calendar_while_the_project_declares_none_is_an_error() -> None:
    (found,) = diagnostics(LoadContext(calendars=frozenset()))
    assert found == (
        "error",
        "the workflow's calendar counts on calendar 'office', but the project declares no "
        "calendars (add them under calendars: in opsflow.yaml)",
    )


def test_weeks_on_a_calendar_are_an_error() -> None:
    for within in ("1w", "P1W", "1w2d"):
        (found,) = diagnostics(OFFICE, within=within)
        assert found[0] == "error"
        assert f"counts '{within}' on calendar 'office': weeks are not allowed" in found[1]
    # the timer's 2w counts on the wall clock (calendar: none): no error


def test_years_without_official_data_are_a_warning() -> None:
    ctx = LoadContext(calendars=frozenset({"office"}), calendar_gaps=(("office", (2031,)),))
    (found,) = diagnostics(ctx)
    assert found[0] == "warning"
    assert found[1].startswith(
        "calendar 'office' has no official holiday data for 2031, which the sla of state "
        "'review' can reach"
    )
    assert diagnostics(ctx, own=", calendar: none") == []  # no deadline counts on it


def test_weeks_in_a_by_duration_or_a_repeat_on_a_calendar_are_errors() -> None:
    text = """\
workflow: w
version: 1
calendar: office
fields:
  tier: {type: enum, values: [gold, silver]}
states:
  review:
    initial: true
    sla: {within: {by: tier, gold: 8h, else: 1w}, fire: nudge, repeat: P1W}
  done: {final: true}
transitions:
  - {event: nudge, from: review, roles: [system]}
  - {event: finish, from: review, to: done}
"""
    _loaded, found = load_workflow_text(text, "w.yaml", OFFICE)
    assert [(d.line, d.severity, d.message) for d in found] == [
        (
            9,
            "error",
            "sla of state 'review' counts '1w' on calendar 'office': weeks are not allowed on "
            "a calendar (count working days: 5d)",
        ),
        (
            9,
            "error",
            "sla of state 'review' counts 'P1W' on calendar 'office': weeks are not allowed "
            "on a calendar (count working days: 5d)",
        ),
    ]
