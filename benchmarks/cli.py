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

        def a() -> float:
            return best_of(lambda: wall(status, cwd=root, env=env), per_sample)

        def b() -> float:
            return best_of(
                lambda: wall([sys.executable, "-c", "import sqlmodel"], env=env), per_sample
            )

        xs, ys, ratios = interleave(a, b, rounds, rate=False)
        figures.append(
            Figure(
                name="cli-status",
                what="CLI latency: `opsflow status CASE --json` ÷ `python -c 'import sqlmodel'`",
                a_label="opsflow status --json",
                b_label="import sqlmodel",
                unit="s",
                a=xs,
                b=ys,
                ratios=ratios,
                target=1.5,
                better="<=",
            )
        )
        help_cmd = [*opsflow, "--help"]

        def c() -> float:
            return best_of(lambda: wall(help_cmd, cwd=root, env=env), per_sample)

        def d() -> float:
            return best_of(
                lambda: wall([sys.executable, "-c", "import click"], env=env), per_sample
            )

        xs, ys, ratios = interleave(c, d, rounds, rate=False)
        figures.append(
            Figure(
                name="cli-help",
                what="CLI latency: `opsflow --help` ÷ `python -c 'import click'`",
                a_label="opsflow --help",
                b_label="import click",
                unit="s",
                a=xs,
                b=ys,
                ratios=ratios,
                target=3.0,
                better="<=",
            )
        )
    return figures
