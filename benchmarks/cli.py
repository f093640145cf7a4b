"""CLI latency: ``opsflow status CASE --json`` ÷ ``import sqlmodel``; ``--help`` ÷ ``import click``.

Both sides are fresh processes of the same interpreter, timed by wall clock.
"""

from __future__ import annotations

import sys

from benchmarks.common import (
    Figure,
    Options,
    best_of,
    clean_env,
    interleave,
    opsflow_command,
    project,
    wall,
    workdir,
)


def cli_latency(options: Options) -> list[Figure]:
    from opsflow import Engine

    per_sample = options.pick(3, 2, 1)
    rounds = options.n_rounds(9)
    figures = []
    with workdir(options, "cli") as root:
        project(root)
        url = f"sqlite:///{root / 'opsflow.db'}"
        engine = Engine.from_config(root / "opsflow.yaml", db=url)
        case = engine.start("bench", actor="ann").id
        engine.fire(case, "bump", actor="ann")
        engine.close()
        env = clean_env({"OPSFLOW_ACTOR": "ann"})
        opsflow = opsflow_command()
        status = [*opsflow, "--db", url, "status", case, "--json"]
        wall(status, cwd=root, env=env)  # warm: bytecode, caches, page cache

        def against_import(
            name: str, shown: str, command: list[str], module: str, target: float
        ) -> Figure:
            """``command`` ÷ ``python -c 'import MODULE'``, both fresh processes."""
            baseline = [sys.executable, "-c", f"import {module}"]
            xs, ys, ratios = interleave(
                lambda: best_of(lambda: wall(command, cwd=root, env=env), per_sample),
                lambda: best_of(lambda: wall(baseline, env=env), per_sample),
                rounds,
                rate=False,
            )
            return Figure(
                name=name,
                what=f"CLI latency: `{shown}` ÷ `python -c 'import {module}'`",
                a_label=shown.replace(" CASE", ""),
                b_label=f"import {module}",
                unit="s",
                a=xs,
                b=ys,
                ratios=ratios,
                target=target,
                better="<=",
            )

        figures.append(
            against_import("cli-status", "opsflow status CASE --json", status, "sqlmodel", 1.5)
        )
        figures.append(
            against_import("cli-help", "opsflow --help", [*opsflow, "--help"], "click", 3.0)
        )
    return figures
