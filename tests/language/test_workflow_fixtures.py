"""Fixture workflows: every invalid file yields exactly the diagnostics in its header."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from opsflow.language.loader import (
    LoadContext,
    load_workflow_file,
    load_workflow_paths,
    team_context,
)
from opsflow.plugins import load_plugins

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
STANDARD = Path(__file__).resolve().parents[2] / "workflows"
CONTEXT = LoadContext(
    channels=frozenset({"team_chat", "email"}), calculators=frozenset({"ratio", "count"})
)


def _expected(text: str) -> list[str]:
    prefix = "# expect: "
    return [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]


def _project_context() -> LoadContext:
    """A project: the built-in calculators, one source, a team holding author and editor."""
    plugins = load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return LoadContext(
        channels=CONTEXT.channels,
        calculators=frozenset(plugins.calculators),
        params_models=tuple((n, c.params_model) for n, c in sorted(plugins.calculators.items())),
        sources=frozenset({"app_events"}),
        team=team_context({"ann": ["author"], "ed": ["editor"]}),
    )


def _context(text: str) -> LoadContext:
    if "# context: project" in text:
        return _project_context()
    return LoadContext() if "# context: no-channels" in text else CONTEXT


def test_there_are_enough_invalid_fixtures() -> None:
    assert len(INVALID) >= 30


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_reports_exactly_its_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = _expected(text)
    assert any(": error: " in line for line in expected), "an invalid fixture expects an error"
    started = time.perf_counter()
    loaded, diagnostics = load_workflow_file(path, _context(text))
    elapsed = time.perf_counter() - started
    got = [f"{d.line}:{d.col}: {d.severity}: {d.message}" for d in diagnostics]
    assert loaded is None
    assert [g for g in got if ": error: " in g] == [e for e in expected if ": error: " in e]
    if any(": warning: " in line for line in expected):
        assert got == expected
    assert all(d.path == str(path) for d in diagnostics)
    assert elapsed < 0.5


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_loads_cleanly(path: Path) -> None:
    loaded, diagnostics = load_workflow_file(path, CONTEXT)
    assert [d.format() for d in diagnostics] == []
    assert loaded is not None
    assert loaded.spec.workflow == path.stem


def test_standard_workflows_load_without_errors() -> None:
    paths = sorted(STANDARD.glob("*.yaml"))
    assert len(paths) == 4
    loaded, diagnostics = load_workflow_paths([STANDARD], LoadContext())
    assert [d.format() for d in diagnostics if d.severity == "error"] == []
    assert set(loaded) == {p.stem for p in paths}
