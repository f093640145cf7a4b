"""`opsflow serve`: its help, and the message when the server extra is missing."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from click.testing import CliRunner

from opsflow.cli import cli


def test_serve_help() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output
    assert "--port" in result.output
    assert "--workers" in result.output


def test_serve_without_the_server_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec

    def missing(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name in ("fastapi", "uvicorn") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", missing)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "pip install 'opsflow[server]'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("flags", "access_log"), [([], True), (["--no-access-log"], False)])
def test_serve_runs_uvicorn_with_joined_writes_and_the_access_log_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, flags: list[str], access_log: bool
) -> None:
    import uvicorn

    from opsflow.cli.serve import PROTOCOL

    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: given.update(kwargs))
    monkeypatch.chdir(tmp_path)
    for name in ("OPSFLOW_DB", "OPSFLOW_WORKFLOWS", "OPSFLOW_CONFIG", "OPSFLOW_PLUGINS_DIR"):
        monkeypatch.delenv(name, raising=False)  # serve sets them for uvicorn's workers
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path}/x.db", "serve", *flags])
    assert result.exit_code == 0, result.output
    assert given["http"] == PROTOCOL
    assert given["access_log"] is access_log
    assert given["server_header"] is False
