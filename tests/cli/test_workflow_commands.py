"""workflows, show, graph, schema, validate through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from click.testing import Result

Run = Callable[..., Result]
Project = Any


def as_json(result: Result) -> Any:
    """The one JSON document on stdout."""
    return json.loads(result.stdout)


def test_workflows_lists_with_open_cases(run: Run, start_case: Callable[..., str]) -> None:
    start_case()
    doc = as_json(run("workflows", "--json"))
    assert [w["id"] for w in doc] == ["expense"]
    assert set(doc[0]) >= {"id", "version", "title", "states", "open_cases"}
    assert doc[0]["open_cases"] == 1
    assert doc[0]["version"] == 1
    human = run("workflows")
    assert human.stdout.splitlines()[0].split()[0] == "WORKFLOW"
    assert "报销 Expense claim" in human.stdout


def test_show(run: Run) -> None:
    human = run("show", "expense")
    assert human.exit_code == 0, human.output
    for word in ("Fields", "States", "Transitions", "Metrics", "spend_ratio", "not by submit"):
        assert word in human.stdout
    doc = as_json(run("show", "expense", "--json"))
    assert doc["workflow"] == "expense"
    assert "draft" in doc["states"]
    assert doc["transitions"][0]["from"] == ["draft"]
    assert run("show", "nope").exit_code == 5


def test_graph_mermaid_and_dot(run: Run) -> None:
    mermaid = run("graph", "expense")
    assert mermaid.exit_code == 0
    lines = mermaid.stdout.splitlines()
    assert "stateDiagram-v2" in lines
    assert "    [*] --> draft" in lines
    assert "    review --> approved : approve" in lines
    assert "    approved --> rejected : reject" in lines  # from "*" expanded
    assert "    paid --> [*]" in lines
    assert "class" not in mermaid.stdout
    dot = run("graph", "expense", "--format", "dot")
    assert dot.stdout.startswith("digraph expense {")
    assert 'draft -> review [label="submit"];' in dot.stdout
    assert run("graph", "expense", "--format", "png").exit_code == 2


def test_graph_highlights_the_case(run: Run, in_review: str) -> None:
    out = run("graph", "expense", "--case", in_review[:8]).stdout
    assert "    class review current" in out
    dot = run("graph", "expense", "--format", "dot", "--case", in_review).stdout
    assert 'review [label="review", style="rounded,filled,bold"' in dot
    assert run("graph", "other", "--case", in_review).exit_code == 5  # not a case of "other"


def test_schema_is_json_schema(run: Run) -> None:
    result = run("schema")
    assert result.exit_code == 0
    doc = as_json(result)
    assert "$schema" in doc or "properties" in doc


def test_validate_ok(run: Run) -> None:
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no problems" in result.stderr
    doc = as_json(run("validate", "--json"))
    assert doc == {"ok": True, "diagnostics": []}


def test_validate_reports_every_error(run: Run, project: Project) -> None:
    bad = project.root / "bad.yaml"
    bad.write_text(
        "workflow: bad\nversion: 1\nstates:\n  a: {initial: true}\n  b: {}\n"
        "transitions:\n  - {event: go, from: a, to: nowhere}\n  - {event: x, from: zz, to: a}\n",
        encoding="utf-8",
    )
    result = run("validate", str(bad))
    assert result.exit_code == 65
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert len(errors) >= 2
    assert all(line.startswith(f"{bad}:") for line in errors)
    assert "error(s)" in result.stderr
    doc = as_json(run("validate", str(bad), "--json"))
    assert doc["ok"] is False
    assert set(doc["diagnostics"][0]) == {"path", "line", "col", "severity", "message"}


def test_validate_missing_path_is_usage(run: Run) -> None:
    assert run("validate", "no/such/file.yaml").exit_code == 2


def test_validate_yaml_syntax_error_points_at_line(run: Run, project: Project) -> None:
    bad = project.root / "syntax.yaml"
    bad.write_text("workflow: x\nstates: [\n", encoding="utf-8")
    result = run("validate", str(bad))
    assert result.exit_code == 65
    assert result.stdout.startswith(f"{bad}:")


def test_graph_and_schema_take_json(run: Run, in_review: str) -> None:
    doc = as_json(run("graph", "expense", "--case", in_review, "--json"))
    assert set(doc) == {"workflow", "format", "case", "state", "text"}
    assert doc["format"] == "mermaid"
    assert doc["text"].startswith("---")
    schema = as_json(run("schema", "--json"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_show_json_keeps_every_section(run: Run) -> None:
    doc = as_json(run("show", "expense", "--json"))
    assert {
        "workflow",
        "version",
        "roles",
        "fields",
        "states",
        "transitions",
        "metrics",
        "rules",
    } <= set(doc)
    assert all("final" in state and "initial" in state for state in doc["states"].values())


def test_cases_open_and_closed_exclude_each_other(run: Run) -> None:
    result = run("cases", "--open", "--closed")
    assert result.exit_code == 2
    assert "exclude each other" in result.stderr
    unknown = run("cases", "--workflow", "nosuch")
    assert unknown.exit_code == 5


NOTES = """\
workflow: notes
version: 1
fields: {note: {type: string}}
states:
  open: {initial: true}
  closed: {final: true}
transitions:
  - {event: comment, from: open, do: [set: {note: "'seen'"}]}
  - {event: close, from: open, to: closed}
"""


def test_show_and_graph_mark_internal_transitions(run: Run, project: Project) -> None:
    (project.root / "workflows" / "notes.yaml").write_text(NOTES, encoding="utf-8")
    shown = run("show", "notes")
    assert shown.exit_code == 0, shown.output
    [row] = [line for line in shown.stdout.splitlines() if line.startswith("comment")]
    assert row.split()[:3] == ["comment", "open", "(internal)"]
    assert "    open --> open : comment (internal)" in run("graph", "notes").stdout.splitlines()
    dot = run("graph", "notes", "--format", "dot").stdout
    assert 'open -> open [label="comment (internal)"];' in dot
