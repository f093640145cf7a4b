"""The CLI in-process on a test database, with the engine fixtures' team (shared by folders)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

TEAM = {
    "ann": ["author"],
    "ed": ["editor"],
    "eve": ["editor"],
    "lou": ["legal"],
    "bea": ["brand"],
    "pat": ["publisher"],
    "dir": ["director"],
    "both": ["author", "editor"],
    "tester": [],  # the engines' default actor: a team member without roles
}


ENGINE_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "engine"


def engine_workflows(parent: Path, *names: str) -> Path:
    """``parent/workflows`` holding the named engine test workflows (``review`` …)."""
    target = parent / "workflows"
    target.mkdir()
    for name in names:
        shutil.copy(ENGINE_FIXTURES / f"{name}.yaml", target / f"{name}.yaml")
    return target


def run_cli(
    db_url: str,
    workflows: Path,
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> Result:
    """``opsflow ARGS`` on ``db_url`` with an opsflow.yaml beside ``workflows`` (written once)."""
    from opsflow.cli import cli

    config = workflows.parent / "opsflow.yaml"
    if not config.exists():
        team = "".join(f"  {name}: {json.dumps(roles)}\n" for name, roles in TEAM.items())
        chat = json.dumps(str(workflows.parent / "chat.jsonl"))
        config.write_text(f"team:\n{team}channels:\n  chat: {{notifier: file, path: {chat}}}\n")
    base = ["--db", db_url, "--workflows", str(workflows), "--config", str(config)]
    return CliRunner().invoke(cli, [*base, *args], env=env, input=input)
