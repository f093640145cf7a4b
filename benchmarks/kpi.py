"""KPI calculators: `opsflow compute` of conversion_rate and dau over generated events in
Parquet ÷ a hand-written DuckDB query for the same numbers, each in a fresh process."""

from __future__ import annotations

import sys
from pathlib import Path

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

WORKFLOW = """\
workflow: bench
version: 1
title: KPI
fields:
  title: {type: string}
states:
  open: {initial: true}
  done: {final: true}
transitions:
  - {event: finish, from: open, to: done}
metrics:
  conversion:
    calculator: conversion_rate
    params: {source: events, from_event: visit, to_event: purchase, window: 30d}
  active:
    calculator: dau
    params: {source: events, date: "2026-01-15"}
"""

HAND_WRITTEN = """\
import duckdb
con = duckdb.connect()
path = {path!r}
conv = con.execute('''
    WITH firsts AS (SELECT user_id, min("timestamp") AS t FROM read_parquet($p)
                    WHERE event = 'visit' AND user_id IS NOT NULL GROUP BY user_id),
    conv AS (SELECT DISTINCT f.user_id FROM firsts f JOIN read_parquet($p) e
             ON e.user_id = f.user_id AND e.event = 'purchase'
             AND e."timestamp" >= f.t AND e."timestamp" <= f.t + INTERVAL 30 DAY)
    SELECT (SELECT count(*) FROM conv), (SELECT count(*) FROM firsts)''', {{"p": path}}).fetchone()
dau = con.execute('''SELECT count(DISTINCT user_id) FROM read_parquet($p)
    WHERE "timestamp" >= TIMESTAMPTZ '2026-01-15 00:00:00+00'
    AND "timestamp" < TIMESTAMPTZ '2026-01-16 00:00:00+00' AND user_id IS NOT NULL''',
    {{"p": path}}).fetchone()
print(conv[0] / conv[1], dau[0])
"""


def _events(path: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT (hash(i) % {max(rows // 50, 10)})::BIGINT AS user_id,
                   CASE WHEN i % 10 = 0 THEN 'purchase' WHEN i % 3 = 0 THEN 'signup'
                        ELSE 'visit' END AS event,
                   TIMESTAMPTZ '2026-01-01 00:00:00+00'
                       + to_seconds((hash(i * 7) % (60 * 86400))::BIGINT) AS "timestamp"
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)"""
    )
    con.close()


def kpi(options: Options) -> list[Figure]:
    from opsflow import Engine

    # The target is defined at 5,000,000 events: --quick keeps the size (fewer rounds), since
    # at 1,000,000 both sides are mostly process start-up and the ratio measures that instead.
    rows = options.pick(5_000_000, 5_000_000, 20_000)
    per_sample = options.pick(3, 1, 1)
    with workdir(options, "kpi") as root:
        project(root, WORKFLOW, "sources:\n  events: {path: events.parquet}\n")
        _events(root / "events.parquet", rows)
        url = f"sqlite:///{root / 'opsflow.db'}"
        engine = Engine.from_config(root / "opsflow.yaml", db=url)
        case = engine.start("bench", actor="ann").id
        engine.close()
        env = clean_env({"OPSFLOW_ACTOR": "ann"})
        compute = [*opsflow_command(), "--db", url, "compute", case, "conversion", "active"]
        script = HAND_WRITTEN.format(path=str(root / "events.parquet"))
        hand = [sys.executable, "-c", script]
        wall(compute, cwd=root, env=env), wall(hand, cwd=root, env=env)
        xs, ys, ratios = interleave(
            lambda: best_of(lambda: wall(compute, cwd=root, env=env), per_sample),
            lambda: best_of(lambda: wall(hand, cwd=root, env=env), per_sample),
            options.n_rounds(7),
            rate=False,
        )
    return [
        Figure(
            name="kpi",
            what=f"`opsflow compute` conversion_rate + dau over {rows:,} Parquet events ÷ "
            "hand-written DuckDB (fresh processes)",
            a_label="opsflow compute",
            b_label="duckdb script",
            unit="s",
            a=xs,
            b=ys,
            ratios=ratios,
            target=2.0,
            better="<=",
            notes={"events": rows},
        )
    ]
