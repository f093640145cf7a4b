"""Commands a plugin adds: listed by --help, run with the engine and actor the options name."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from opsflow import config, plugins
from opsflow.cli import cli, current_actor, get_engine, pass_engine, plugin_probe

Run = Callable[..., Result]
Project = Any
ROOT = Path(__file__).resolve().parents[2]

GREETER = '''
import click

from opsflow import hookimpl
from opsflow.cli import current_actor, get_engine, pass_engine


@hookimpl
def register_commands(cli):
    @cli.command("greet")
    @click.argument("name")
    @pass_engine
    def greet(engine, name):
        """Greet NAME from the acting person (a test plugin command)."""
        click.echo(f"{name} {current_actor()} {engine.settings.db_url}")

    @cli.command("where")
    @click.pass_context
    def where(ctx):
        """Say which database and actor a command sees."""
        click.echo(f"{get_engine(ctx).settings.db_url} {current_actor(ctx)}")
'''


def _plugin(folder: Path, name: str = "greeter.py", text: str = GREETER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_help_lists_the_commands_of_a_plugins_dir(tmp_path: Path) -> None:
    folder = _plugin(tmp_path / "more")
    out = CliRunner().invoke(cli, ["--plugins-dir", str(folder), "--help"]).stdout
    listed = out.split("Plugin commands:", 1)[1]
    assert re.search(r"^  greet +Greet NAME from the acting person", listed, re.MULTILINE)
    assert re.search(r"^  where +Say which database", listed, re.MULTILINE)


def test_help_lists_the_commands_of_the_projects_plugins(run: Run, project: Project) -> None:
    assert "Plugin commands:" not in run("--help").stdout
    _plugin(project.root / "plugins")
    out = run("--help").stdout
    assert "Plugin commands:" in out
    assert "greet" in out.split("Plugin commands:", 1)[1]


def test_help_in_a_real_process_lists_plugin_commands(project: Project, opsflow: Any) -> None:
    _plugin(project.root / "plugins")
    proc = opsflow("--help", cwd=project.root)
    assert proc.returncode == 0, proc.stderr
    assert "greet" in proc.stdout.split("Plugin commands:", 1)[1]


def test_plugin_commands_see_db_and_as(run: Run, project: Project, tmp_path: Path) -> None:
    folder = _plugin(tmp_path / "more")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    result = run("--plugins-dir", str(folder), "--db", other, "--as", "zed", "greet", "ann")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ann zed {other}\n"
    result = run("--plugins-dir", str(folder), "--db", other, "--as", "yan", "where")
    assert result.stdout == f"{other} yan\n"
    default = run("--plugins-dir", str(folder), "--as", "zed", "where")
    assert default.stdout == f"{project.db_url} zed\n"  # opsflow.yaml's database


def test_plugin_commands_see_the_environment(run: Run, tmp_path: Path) -> None:
    folder = _plugin(tmp_path / "more")
    other = f"sqlite:///{tmp_path / 'env.db'}"
    env = {"OPSFLOW_DB": other, "OPSFLOW_ACTOR": "env-person", "OPSFLOW_PLUGINS_DIR": str(folder)}
    assert run("where", env=env).stdout == f"{other} env-person\n"


def test_plugin_commands_are_loaded_per_invocation(run: Run, tmp_path: Path) -> None:
    folder = _plugin(tmp_path / "more")
    assert run("--plugins-dir", str(folder), "where").exit_code == 0
    assert run("where").exit_code == 2  # no such command without the plugins folder


def test_the_documented_register_commands_example_runs(
    run: Run, project: Project, start_case: Callable[..., str]
) -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = guide.split("### `register_commands(cli)`", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    _plugin(project.root / "plugins", "hello.py", example)
    start_case()
    result = run("--as", "ann", "hello", "bob")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello bob, from ann: 1 open cases\n"


def test_pass_engine_passes_the_engine_first(tmp_path: Path) -> None:
    @click.command()
    @click.argument("word")
    @pass_engine
    def show(engine: Any, word: str) -> None:
        click.echo(f"{word} {engine.settings.db_url} {current_actor()}")

    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(show, ["hi"], env={"OPSFLOW_DB": db, "OPSFLOW_ACTOR": "kim"})
    assert result.exit_code == 0, result.output
    assert result.stdout == f"hi {db} kim\n"
    assert show.callback is not None
    assert show.callback.__name__ == "show"
    assert get_engine is not None


# -- the probe that keeps --help fast ---------------------------------------------------------


def test_probe_names_match_the_modules_it_stands_in_for() -> None:
    assert plugin_probe.ENTRY_POINT_GROUP == plugins.ENTRY_POINT_GROUP
    assert plugin_probe.DISABLE_AUTOLOAD_ENV == plugins.DISABLE_AUTOLOAD_ENV
    assert plugin_probe.CONFIG_FILE == config.CONFIG_FILE
    assert plugin_probe.ENV_CONFIG == config.ENV_CONFIG
    assert plugin_probe.ENV_PLUGINS_DIR == config.ENV_PLUGINS_DIR


def test_probe_finds_each_source_of_plugin_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    off = {"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    assert not plugin_probe.commands_possible(config=None, plugins_dir=None, env=off)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "notes.txt").write_text("not a module", encoding="utf-8")
    assert not plugin_probe.commands_possible(config=None, plugins_dir=None, env=off)
    _plugin(tmp_path / "elsewhere")
    assert plugin_probe.commands_possible(config=None, plugins_dir="elsewhere", env=off)
    assert plugin_probe.commands_possible(
        config=None, plugins_dir=None, env={**off, "OPSFLOW_PLUGINS_DIR": "elsewhere"}
    )
    (tmp_path / "opsflow.yaml").write_text("plugins: {dir: elsewhere}\n", encoding="utf-8")
    assert plugin_probe.commands_possible(config=None, plugins_dir=None, env=off)


def test_probe_finds_an_installed_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site"
    dist = site / "opsflow_thing-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "entry_points.txt").write_text("[opsflow]\nthing = thing\n", encoding="utf-8")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert not plugin_probe.commands_possible(config=None, plugins_dir=None, env={})
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(site)])
    assert plugin_probe.commands_possible(config=None, plugins_dir=None, env={})
    off = {"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}
    assert not plugin_probe.commands_possible(config=None, plugins_dir=None, env=off)
