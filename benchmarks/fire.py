"""Persisted fire: ``Engine.fire`` against the same transaction written by hand on the driver.

One fire is ``bump`` on one case: a self-transition that sets a field. The floor does the
same work with the bare driver on the same schema: select the case, update it, insert one
history row, commit (SQLite: WAL and ``synchronous=FULL``, as opsflow; PostgreSQL:
``SELECT … FOR UPDATE``, as opsflow).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, Options, interleave, project, workdir

_SQLITE_UPDATE = (
    "UPDATE cases SET data=?, updated_at=?, row_version=?, seq=?, last_hash=? "
    "WHERE id=? AND row_version=?"
)
_HISTORY = (
    "INSERT INTO history (case_id, seq, at, actor, kind, event, from_state, to_state, "
    "data_changes, comment, detail, prev_hash, hash) "
    "VALUES (?, ?, ?, 'ann', 'transition', 'bump', 'open', 'open', ?, NULL, '{}', ?, ?)"
)


def _now_text() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def raw_sqlite_fire(conn: sqlite3.Connection, case_id: str) -> None:
    """The floor: one fire's transaction written with the standard library's sqlite3."""
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute(
        "SELECT data, row_version, seq, last_hash FROM cases WHERE id = ?", (case_id,)
    ).fetchone()
    data = json.loads(row[0])
    old = data.get("counter", 0)
    data["counter"] = old + 1
    at = _now_text()
    changes = json.dumps({"counter": {"from": old, "to": old + 1}})
    seq = row[2] + 1
    conn.execute(_SQLITE_UPDATE, (json.dumps(data), at, row[1] + 1, seq, str(seq), case_id, row[1]))
    conn.execute(_HISTORY, (case_id, seq, at, changes, row[3], str(seq)))
    conn.execute("COMMIT")


def _engine(url: str, root: Path) -> Any:
    from opsflow import Engine

    return Engine.from_config(root / "opsflow.yaml", db=url)


class SqliteFires:
    """One fire's two sides on SQLite files in ``root``: Engine.fire and the stdlib floor."""

    def __init__(self, root: Path) -> None:
        self.engine = _engine(f"sqlite:///{root / 'engine.db'}", root)
        self.case = self.engine.start("bench", actor="ann").id
        floor_engine = _engine(f"sqlite:///{root / 'floor.db'}", root)
        self.floor_case = floor_engine.start("bench", actor="ann").id  # the same schema, row
        floor_engine.close()
        self.raw = sqlite3.connect(root / "floor.db", isolation_level=None)
        self.raw.execute("PRAGMA journal_mode=WAL")
        self.raw.execute("PRAGMA synchronous=FULL")
        self.raw.execute("PRAGMA busy_timeout=10000")

    def fires(self, n: int) -> float:
        """``n`` Engine fires of ``bump``: fires/s."""
        engine, case = self.engine, self.case
        start = time.perf_counter()
        for _ in range(n):
            engine.fire(case, "bump", actor="ann")
        return n / (time.perf_counter() - start)

    def floor(self, n: int) -> float:
        """``n`` of the same transaction on stdlib sqlite3: fires/s."""
        raw, case = self.raw, self.floor_case
        start = time.perf_counter()
        for _ in range(n):
            raw_sqlite_fire(raw, case)
        return n / (time.perf_counter() - start)

    def close(self) -> None:
        self.raw.close()
        self.engine.close()


def fire_sqlite(options: Options) -> list[Figure]:
    n = options.pick(400, 150, 10)
    with workdir(options, "fire-sqlite") as root:
        project(root)
        sides = SqliteFires(root)
        sides.fires(n), sides.floor(n)  # warm up: compiled definition, statements, page cache
        xs, ys, ratios = interleave(
            lambda: sides.fires(n), lambda: sides.floor(n), options.n_rounds(11), rate=True
        )
        sides.close()
    return [fire_sqlite_figure(xs, ys, ratios, n)]


def fire_sqlite_figure(
    xs: list[float], ys: list[float], ratios: list[float], n: int, name: str = "fire-sqlite"
) -> Figure:
    return Figure(
        name=name,
        what="persisted fire, SQLite: Engine.fire ÷ stdlib sqlite3 (fires/s)",
        a_label="Engine.fire",
        b_label="sqlite3",
        unit="fires/s",
        a=xs,
        b=ys,
        ratios=ratios,
        target=0.5,
        better=">=",
        notes={"fires_per_sample": n},
    )


# -- PostgreSQL ---------------------------------------------------------------------------

_PG_SELECT = "SELECT data, row_version, seq, last_hash FROM cases WHERE id = %s FOR UPDATE"
_PG_UPDATE = _SQLITE_UPDATE.replace("?", "%s")
_PG_HISTORY = _HISTORY.replace("?", "%s")


def raw_pg_fire(conn: Any, case_id: str) -> None:
    """The floor on PostgreSQL: the same transaction with psycopg 3."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_PG_SELECT, (case_id,))
        row = cur.fetchone()
        data = row[0] if isinstance(row[0], dict) else json.loads(row[0])
        old = data.get("counter", 0)
        data["counter"] = old + 1
        at = datetime.now(UTC)
        changes = json.dumps({"counter": {"from": old, "to": old + 1}})
        seq = row[2] + 1
        cur.execute(_PG_UPDATE, (json.dumps(data), at, row[1] + 1, seq, str(seq), case_id, row[1]))
        cur.execute(_PG_HISTORY, (case_id, seq, at, changes, row[3], str(seq)))


def _client(pipe: Any, url: str, root: str, barrier: Any) -> None:
    """One client process: fires on its own cases when told, between barrier waits."""
    import psycopg

    engine = _engine(url, Path(root))
    engine_case = engine.start("bench", actor="ann").id
    raw_case = engine.start("bench", actor="ann").id
    raw = psycopg.connect(_psycopg_dsn(url))
    pipe.send("ready")
    while True:
        message = pipe.recv()
        if message is None:
            break
        kind, n = message
        barrier.wait()
        start = time.perf_counter()
        for _ in range(n):
            if kind == "engine":
                engine.fire(engine_case, "bump", actor="ann")
            else:
                raw_pg_fire(raw, raw_case)
        pipe.send((start, time.perf_counter()))
    raw.close()
    engine.close()


def _psycopg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _bench_schema_url(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def fire_postgres(options: Options) -> list[Figure]:
    if not options.postgres_url:
        return []
    import psycopg

    schema = f"opsflow_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(_psycopg_dsn(options.postgres_url), autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    url = _bench_schema_url(options.postgres_url, schema)
    figures = []
    try:
        with workdir(options, "fire-postgres") as root:
            project(root)
            _engine(url, root).db.upgrade()
            for clients in (1, 4):
                figures.append(_pg_figure(options, url, root, clients))
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
    return figures


def _pg_figure(options: Options, url: str, root: Path, clients: int) -> Figure:
    n = options.pick(300, 100, 5)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients)
    pipes, procs = [], []
    for _ in range(clients):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_client, args=(child, url, str(root), barrier), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise RuntimeError("a benchmark client failed to start")

    def run(kind: str) -> float:
        for pipe in pipes:
            pipe.send((kind, n))
        spans = [pipe.recv() for pipe in pipes]
        return clients * n / (max(e for _, e in spans) - min(s for s, _ in spans))

    try:
        run("engine"), run("raw")
        xs, ys, ratios = interleave(
            lambda: run("engine"), lambda: run("raw"), options.n_rounds(9), rate=True
        )
    finally:
        for pipe in pipes:
            pipe.send(None)
        for proc in procs:
            proc.join(timeout=30)
    return Figure(
        name=f"fire-postgres-{clients}",
        what=f"persisted fire, PostgreSQL, {clients} client(s) on different cases: "
        "Engine.fire ÷ psycopg 3 (fires/s)",
        a_label="Engine.fire",
        b_label="psycopg",
        unit="fires/s",
        a=xs,
        b=ys,
        ratios=ratios,
        target=0.5,
        better=">=",
        notes={"fires_per_client_per_sample": n, "clients": clients},
    )
