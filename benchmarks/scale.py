"""Scale: 20,000 (and with --scale 1,000,000) cases vs 10, for `cases --state S --limit 20`
and `worker --once` with 10 due deadlines.

The big database is filled with bulk Core inserts (not ``Engine.start``): cases spread over
the workflow's states, a tenth of them waiting on deadlines due in the future. Ten real
cases (started and moved by the engine) have deadlines; before each worker run their
deadlines are made due again, outside the timing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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

DUE = 10


def _fill(url: str, root: Path, filler: int) -> list[str]:
    """A database with ``DUE`` engine-made cases waiting on a deadline, plus ``filler`` more."""
    from sqlalchemy import insert

    from opsflow import Engine
    from opsflow.store import tables as t

    engine = Engine.from_config(root / "opsflow.yaml", db=url)
    due = []
    for _ in range(DUE):
        case = engine.start("bench", actor="ann", data={"title": "due"}).id
        engine.fire(case, "wait", actor="ann")
        due.append(case)
    states = ["open", "waiting", "done"]
    base = datetime(2025, 1, 1, tzinfo=UTC)
    chunk = 20_000
    with engine.db.write() as conn:
        for first in range(0, filler, chunk):
            cases: list[dict[str, Any]] = []
            deadlines: list[dict[str, Any]] = []
            for i in range(first, min(filler, first + chunk)):
                at = base + timedelta(seconds=i)
                state = states[i % 3]
                cid = uuid.uuid4().hex
                cases.append(
                    {
                        "id": cid,
                        "workflow": "bench",
                        "version": 1,
                        "state": state,
                        "data": {"counter": i, "title": f"case {i}"},
                        "metrics": {},
                        "actors": {},
                        "rules": {},
                        "created_by": "ann",
                        "created_at": at,
                        "updated_at": at,
                        "entered_at": at,
                        "visit": 1,
                        "closed": state == "done",
                        "row_version": 1,
                        "seq": 1,
                        "last_hash": "",
                    }
                )
                if state == "waiting":
                    deadlines.append(
                        {
                            "case_id": cid,
                            "state": "waiting",
                            "visit": 1,
                            "event": "ping",
                            "kind": "sla",
                            "field": None,
                            "due_at": datetime(2100, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
                            "status": "pending",
                        }
                    )
            conn.execute(insert(t.cases), cases)
            if deadlines:
                conn.execute(insert(t.deadlines), deadlines)
    with engine.db.write() as conn:
        conn.exec_driver_sql("ANALYZE") if engine.db.is_sqlite else None
    engine.close()
    return due


def _make_due(url: str, cases: list[str]) -> None:
    from sqlalchemy import create_engine, update

    from opsflow.store import tables as t

    db = create_engine(url)
    with db.begin() as conn:
        conn.execute(
            update(t.deadlines)
            .where(t.deadlines.c.case_id.in_(cases), t.deadlines.c.status == "pending")
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    db.dispose()


def scale(options: Options) -> list[Figure]:
    sizes = [options.pick(20_000, 20_000, 200)]
    if options.scale:
        sizes.append(1_000_000)
    per_sample = options.pick(3, 1, 1)
    rounds = options.n_rounds(7)
    figures = []
    with workdir(options, "scale") as root:
        project(root)
        env = clean_env({"OPSFLOW_ACTOR": "ann"})
        opsflow = opsflow_command()
        small_url = f"sqlite:///{root / 'small.db'}"
        small_due = _fill(small_url, root, 0)
        for size in sizes:
            big_url = f"sqlite:///{root / f'big{size}.db'}"
            big_due = _fill(big_url, root, size - DUE)

            def cases_run(url: str) -> float:
                cmd = [*opsflow, "--db", url, "cases", "--state", "waiting", "--limit", "20"]
                return best_of(lambda: wall(cmd, cwd=root, env=env), per_sample)

            cases_run(big_url), cases_run(small_url)  # warm: page cache
            xs, ys, ratios = interleave(
                lambda u=big_url: cases_run(u),  # type: ignore[misc]
                lambda: cases_run(small_url),
                rounds,
                rate=False,
            )
            figures.append(
                Figure(
                    name=f"scale-cases-{size}",
                    what=f"`opsflow cases --state S --limit 20`: {size:,} cases ÷ {DUE} cases",
                    a_label=f"{size:,} cases",
                    b_label=f"{DUE} cases",
                    unit="s",
                    a=xs,
                    b=ys,
                    ratios=ratios,
                    target=1.3,
                    better="<=",
                )
            )

            def worker_run(url: str, due: list[str]) -> float:
                cmd = [*opsflow, "--db", url, "worker", "--once", "--json"]
                samples = []
                for _ in range(per_sample):
                    _make_due(url, due)
                    samples.append(wall(cmd, cwd=root, env=env))
                return sorted(samples)[len(samples) // 2]

            worker_run(big_url, big_due), worker_run(small_url, small_due)
            xs, ys, ratios = interleave(
                lambda u=big_url, d=big_due: worker_run(u, d),  # type: ignore[misc]
                lambda: worker_run(small_url, small_due),
                rounds,
                rate=False,
            )
            figures.append(
                Figure(
                    name=f"scale-worker-{size}",
                    what=f"`opsflow worker --once`, {DUE} due deadlines: {size:,} cases ÷ {DUE}",
                    a_label=f"{size:,} cases",
                    b_label=f"{DUE} cases",
                    unit="s",
                    a=xs,
                    b=ys,
                    ratios=ratios,
                    target=1.3,
                    better="<=",
                )
            )
    return figures
