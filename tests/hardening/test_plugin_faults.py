"""Plugins that fail: on import, inside a hook, inside a calculator (SPEC §4, §6).

Local plugin modules in ``--plugins-dir``, driven through the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hardening_helpers import Project, Run

BROKEN_IMPORT = 'raise RuntimeError("boom at import")\n'
GUARDS = """
from opsflow.hookspecs import hookimpl


@hookimpl
def before_transition(case, transition, actor):
    if transition.event == "submit":
        raise ValueError("guard exploded")
    return None


@hookimpl
def after_transition(case, transition, actor, entry):
    raise RuntimeError("observer exploded")
"""
CALCULATOR = """
from opsflow.hookspecs import hookimpl


def explode(params, ctx):
    raise ZeroDivisionError("calculator exploded")


@hookimpl
def register_calculators(register):
    register("explode", explode)
"""


def _plugins(project: Project, **modules: str) -> Path:
    folder = project.root / "plugins"
    folder.mkdir(exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source)
    return folder


def test_a_plugin_failing_on_import_is_reported_and_the_cli_works(
    project: Project, run: Run
) -> None:
    folder = _plugins(project, broken=BROKEN_IMPORT)
    listed = run("--plugins-dir", str(folder), "plugins", "--json")
    assert listed.exit_code == 0, listed.output
    listing = json.dumps(json.loads(listed.stdout))
    assert "broken" in listing
    assert "boom at import" in listing
    started = run(
        "--plugins-dir", str(folder), "--as", "rita", "start", "expense", "--set", "title=x"
    )
    assert started.exit_code == 0, started.output
    assert run("--plugins-dir", str(folder), "cases").exit_code == 0


def test_strict_mode_refuses_a_broken_plugin(project: Project, run: Run) -> None:
    _plugins(project, broken=BROKEN_IMPORT)
    config = project.root / "opsflow.yaml"
    config.write_text(config.read_text() + "plugins: {dir: plugins, strict: true}\n")
    result = run("--as", "rita", "start", "expense", "--set", "title=x")
    assert result.exit_code == 1, result.output
    assert "broken" in result.stderr
    assert "boom at import" in result.stderr
    assert "Traceback" not in result.output
    assert project.counts()["cases"] == 0


def test_a_raising_before_transition_refuses_naming_the_plugin(project: Project, run: Run) -> None:
    folder = _plugins(project, guards=GUARDS)
    base = ["--plugins-dir", str(folder), "--as", "rita"]
    case_id = run(*base, "start", "expense", "--set", "title=x", "--set", "amount=3").stdout.strip()
    result = run(*base, "fire", case_id, "submit")
    assert result.exit_code == 4, result.output
    assert "guards" in result.stderr
    assert "guard exploded" in result.stderr
    history = json.loads(run(*base, "history", case_id, "--json").stdout)
    assert history[-1]["kind"] == "denied"
    assert history[-1]["event"] == "submit"
    assert json.loads(run(*base, "status", case_id, "--json").stdout)["state"] == "draft"
    assert run(*base, "audit", "verify").exit_code == 0


def test_a_raising_after_transition_is_logged_and_the_fire_succeeds(
    project: Project, run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _plugins(project, guards=GUARDS)
    base = ["--plugins-dir", str(folder), "--as", "max"]
    case_id = run(*base, "start", "expense", "--set", "title=x", "--set", "amount=3").stdout.strip()
    result = run(*base, "fire", case_id, "reject")
    assert result.exit_code == 0, result.output
    assert json.loads(run(*base, "status", case_id, "--json").stdout)["state"] == "rejected"
    assert "observer exploded" in caplog.text + result.stderr


def test_a_raising_calculator_names_the_metric_and_writes_nothing(
    project: Project, run: Run
) -> None:
    folder = _plugins(project, calc=CALCULATOR)
    workflow = project.root / "workflows" / "expense.yaml"
    workflow.write_text(workflow.read_text() + "  boom:\n    calculator: explode\n    params: {}\n")
    base = ["--plugins-dir", str(folder), "--as", "rita"]
    case_id = run(*base, "start", "expense", "--set", "title=x").stdout.strip()
    before = project.counts()
    result = run(*base, "compute", case_id, "boom")
    assert result.exit_code in (1, 65), result.output
    assert "boom" in result.stderr
    assert "calculator exploded" in result.stderr
    assert "Traceback" not in result.output
    assert project.counts() == before
