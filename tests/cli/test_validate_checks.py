"""validate: the checks that need the project (configuration, database) through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from click.testing import Result

Run = Callable[..., Result]
Project = Any


def test_a_registered_version_whose_text_changed_is_an_error(
    run: Run, project: Project, start_case: Callable[..., str]
) -> None:
    start_case()  # registers expense version 1
    path = project.root / "workflows" / "expense.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# a late edit\n", encoding="utf-8")
    result = run("validate")
    assert result.exit_code == 65, result.output
    assert result.stdout.splitlines() == [
        f"{path}:3:10: error: workflow 'expense' version 1 is already registered with "
        "different text; bump version to 2 (running cases keep the version they started on)"
    ]


def test_validate_never_creates_the_database(run: Run, project: Project) -> None:
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert not (project.root / "opsflow.db").exists()


def test_an_unknown_source_is_an_error_when_no_sources_are_configured(
    run: Run, project: Project
) -> None:
    path = project.root / "workflows" / "expense.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "    params: {numerator: spent, denominator: amount}\n",
        "    params: {numerator: spent, denominator: amount}\n"
        "  claims: {calculator: count, params: {source: claims, event: filed}}\n",
    )
    path.write_text(text, encoding="utf-8")
    result = run("validate")
    assert result.exit_code == 65, result.output
    line = (
        text.splitlines().index(
            "  claims: {calculator: count, params: {source: claims, event: filed}}"
        )
        + 1
    )
    assert result.stdout.splitlines() == [
        f"{path}:{line}:48: error: metric 'claims' (calculator 'count') reads unknown source "
        "'claims' (no sources are configured in opsflow.yaml)"
    ]


def test_a_role_no_one_holds_is_a_warning(run: Run, project: Project) -> None:
    path = project.root / "workflows" / "expense.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "roles: [requester, manager, finance]", "roles: [requester, manager, finance, auditor]"
    )
    path.write_text(text, encoding="utf-8")
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{path}:6:38: warning: no one in the team holds role 'auditor'; give it to someone in "
        "the team section of opsflow.yaml"
    ]


def test_a_team_member_is_a_recipient_and_a_stranger_is_not(run: Run, project: Project) -> None:
    path = project.root / "workflows" / "expense.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "to: finance, message:", 'to: "fin, stranger", message:'
    )
    path.write_text(text, encoding="utf-8")
    result = run("validate")
    assert result.exit_code == 65, result.output
    errors = result.stdout.splitlines()
    assert len(errors) == 1
    assert errors[0].endswith(
        "error: on_enter of state 'approved' notifies 'stranger', which is neither a role, a "
        "team member, 'assignee' nor an address (an e-mail address or a URL) (did you mean "
        "'manager'?)"
    )
