"""Fixtures for the hardening tests: a temp project and the CLI in-process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hardening_helpers import FIXTURES, NOW, Project, Run


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPSFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("OPSFLOW_NOW", NOW)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(FIXTURES / "cli" / "opsflow.yaml", root / "opsflow.yaml")
    shutil.copytree(FIXTURES / "cli" / "workflows", root / "workflows")
    monkeypatch.chdir(root)
    return Project(root)


@pytest.fixture
def run(project: Project) -> Run:
    """Invoke the CLI in-process; exceptions become exit codes as in a real process."""
    from opsflow.cli import cli

    runner = CliRunner()

    def invoke(
        *args: str, env: dict[str, str] | None = None, input: str | bytes | None = None
    ) -> Result:
        return runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return invoke
