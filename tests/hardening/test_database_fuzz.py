"""A database-file fuzzer: truncated, random and mutated SQLite files, and rows holding
random bytes. Every command must answer plainly: no traceback, no "internal error"."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from opsflow.cli import cli

BUDGET_S = 20.0  # bounded run time, whatever the machine
TEAM = {"ann": ["author"], "ed": ["editor"], "lou": ["legal"]}
COLUMNS = {
    "cases": ["data", "metrics", "actors", "rules", "entered_at", "updated_at", "created_at"],
    "history": ["data_changes", "detail", "at"],
    "deadlines": ["due_at", "lease_until"],
    "approvals": ["at"],
}
COMMANDS = [["cases"], ["inbox"], ["audit", "verify"], ["worker", "--once"]]


def _pristine(make_engine: Any, tmp_path: Path) -> tuple[Path, list[str]]:
    engine = make_engine()
    ids = []
    for n in range(4):
        case = engine.start("review", {"title": f"t{n}", "claims": True}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")
        if n % 2:
            engine.fire(case.id, "approve", actor="ed")
            engine.fire(case.id, "approve", actor="lou")
        ids.append(str(case.id))
    engine.close()
    return Path(str(engine.settings.db_url).removeprefix("sqlite:///")), ids


def _mutate_file(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    how = rng.choice(["truncate", "random", "flip", "text"])
    if how == "truncate":
        data = data[: rng.randrange(len(data))]
    elif how == "random":
        data = bytearray(rng.randbytes(rng.choice([100, 4096, len(data)])))
    elif how == "flip":
        for _ in range(rng.randrange(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    else:
        data = bytearray(b"notes\n" * rng.randrange(1, 500))
    path.write_bytes(bytes(data))
    return "file"


def _mutate_row(path: Path, rng: random.Random) -> str:
    table = rng.choice(list(COLUMNS))
    column = rng.choice(COLUMNS[table])
    value: Any = rng.choice(
        [rng.randbytes(8), "{not json", "not a time", "", "[1,2]", '"text"', "99999-99-99"]
    )
    with sqlite3.connect(path) as conn:
        if isinstance(value, bytes) and rng.random() < 0.5:
            conn.execute(f"UPDATE {table} SET {column} = CAST(? AS TEXT)", (value,))
        else:
            conn.execute(
                f"UPDATE {table} SET {column} = ? WHERE rowid = (SELECT min(rowid) FROM {table})",
                (value,),
            )
    return table


def test_damaged_databases_never_give_an_internal_error(
    make_engine: Any, db_url: str, tmp_path: Path, workflows_dir: Path
) -> None:
    if not db_url.startswith("sqlite"):
        return  # the file is SQLite's; the row mutations need a file too
    pristine, ids = _pristine(make_engine, tmp_path)
    config = tmp_path / "opsflow.yaml"
    team = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in TEAM.items())
    chat = json.dumps(str(tmp_path / "chat.jsonl"))
    config.write_text(f"team:\n{team}channels:\n  chat: {{notifier: file, path: {chat}}}\n")
    rng = random.Random(12)
    target = tmp_path / "fuzzed.db"
    base = [
        "--db",
        f"sqlite:///{target}",
        "--workflows",
        str(workflows_dir),
        "--config",
        str(config),
    ]
    bad: list[str] = []
    rounds = 0
    deadline = time.monotonic() + BUDGET_S
    while time.monotonic() < deadline and rounds < 60:
        rounds += 1
        shutil.copy(pristine, target)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        try:
            (_mutate_file if rng.random() < 0.4 else _mutate_row)(target, rng)
        except sqlite3.DatabaseError:
            continue
        for args in [*COMMANDS, ["status", rng.choice(ids)]]:
            result = CliRunner().invoke(cli, [*base, *args])
            text = result.output + (result.stderr or "")
            if (
                "internal error" in text
                or "Traceback" in text
                or result.exception
                and not isinstance(result.exception, SystemExit)
            ):
                bad.append(f"round {rounds} {args}: {text.strip()[-300:]} {result.exception!r}")
    assert rounds >= 5
    assert bad == [], "\n".join(bad[:5])
