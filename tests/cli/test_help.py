"""Every command's --help is written for operators, with examples."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from opsflow.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


ALL = sorted(_commands(cli))


def test_every_spec_command_exists() -> None:
    names = {c[0] for c in ALL}
    assert names >= {
        "init", "validate", "workflows", "show", "graph", "schema", "start", "fire", "set",
        "status", "cases", "inbox", "history", "audit", "compute", "worker", "outbox",
        "plugins", "test", "demo",
    }  # fmt: skip
    assert ("audit", "verify") in ALL


@pytest.mark.parametrize("path", [(), *ALL], ids=lambda p: " ".join(p) or "opsflow")
def test_help_has_examples(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.stdout
    assert "  opsflow " in result.stdout


def test_root_help_groups_commands() -> None:
    out = CliRunner().invoke(cli, ["--help"]).stdout
    for section in ("Cases:", "Workflows:", "Administration:"):
        assert section in out
    assert "--as NAME" in out
    assert "OPSFLOW_DB" in out
