"""Fixtures for the CLI tests: a temp project, an isolated environment, a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from opsflow_process import opsflow_process

FIXTURES = Path(__file__).parent.parent / "fixtures" / "cli"
# The CLI and the engine of every test here share one fixed clock (a test may pass another
# OPSFLOW_NOW): nothing compares a literal date with the real clock.
NOW = "2026-01-05T09:00:00+00:00"


@dataclass
class Project:
    """A temp project folder with opsflow.yaml and the fixture workflow."""

    root: Path

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'opsflow.db'}"

    def engine(self) -> Any:
        """An engine on the project's database, to check what the CLI wrote."""
        from opsflow.clock import parse_instant
        from opsflow.facade import Engine

        fixed = parse_instant(NOW)
        return Engine.from_config(self.root / "opsflow.yaml", clock=lambda: fixed)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPSFLOW_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("OPSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPSFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A fresh project in a temp folder, which is also the working directory."""
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(FIXTURES / "opsflow.yaml", root / "opsflow.yaml")
    shutil.copytree(FIXTURES / "workflows", root / "workflows")
    monkeypatch.chdir(root)
    return Project(root)


Run = Callable[..., Result]


@pytest.fixture
def run(project: Project) -> Run:
    """Invoke the CLI in-process: ``run("--as", "rita", "start", "expense", ...)``."""
    from opsflow.cli import cli

    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        env = {"OPSFLOW_NOW": NOW, "OPSFLOW_ACTOR": "rita", **(env or {})}
        return runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def as_json(result: Result) -> Any:
    """The one JSON document a ``--json`` command printed on stdout."""
    return json.loads(result.stdout)


@pytest.fixture
def start_case(run: Run) -> Callable[..., str]:
    """Start an expense case and return its id."""

    def start(actor: str = "rita", *sets: str) -> str:
        args = ["--as", actor, "start", "expense", "--set", "title=Taxi", "--set", "amount=40"]
        for s in sets:
            args += ["--set", s]
        result = run(*args)
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    return start


@pytest.fixture
def in_review(run: Run, start_case: Callable[..., str]) -> str:
    """A case submitted by rita, waiting in review."""
    case_id = start_case()
    result = run("--as", "rita", "fire", case_id, "submit")
    assert result.exit_code == 0, result.output
    return case_id


@pytest.fixture
def opsflow() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m opsflow ARGS`` as a real process: ``opsflow("cases", cwd=...)``."""
    return opsflow_process
