"""N valid cases written straight through SQL, cached on disk between runs.

Starting a million cases through ``Engine.start`` takes an hour; these rows are what it
would write, built directly: one ``cases`` row in ``open`` and its ``start`` history entry,
hash-chained exactly as the engine chains it (``chain_hash`` over ``entry_payload``), so
``opsflow audit verify`` accepts them. The version is registered first by one real
``Engine.start`` (the definitions row and the ``index: true`` expression indexes). SQLite:
the rows go through opsflow's prepared statements on the driver (``executemany``, the
engine's own column converters, so the stored bytes are the engine's). PostgreSQL: COPY.

Cache: SQLite files under ``$OPSFLOW_BENCH_CACHE`` (default ``~/.cache/opsflow-bench``),
PostgreSQL schemas named ``opsflow_bench_cache_N_KEY``; KEY hashes the workflow text, the
loader version and the schema revision, so a change to any makes a fresh database.
``python -m benchmarks.bulkload N [--postgres URL]`` fills one ahead of time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

LOADER_VERSION = "1"
CHUNK = 20_000
BUDGETS = 1_000_000  # budget is uniform in [0, BUDGETS): a range of width w matches w/BUDGETS
AD_EVERY = 10  # one case in ten is an ad

# The benchmark workflow, with two search fields declared `index: true`.
SEARCH_WORKFLOW = """\
workflow: bench
version: 1
title: Benchmark
roles: [clerk]
fields:
  counter: {type: integer, default: 0}
  title: {type: string}
  budget: {type: integer, index: true}
  kind: {type: enum, values: [article, ad], default: article, index: true}
states:
  open:
    initial: true
  done: {final: true}
transitions:
  - event: bump
    from: open
    to: open
    do:
      - set: {counter: "counter + 1"}
  - event: finish
    from: open
    to: done
"""


def cache_dir() -> Path:
    path = Path(os.environ.get("OPSFLOW_BENCH_CACHE") or Path.home() / ".cache" / "opsflow-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(workflow: str = SEARCH_WORKFLOW) -> str:
    from opsflow.engine.search_index import index_statements
    from opsflow.language.loader import LoadContext, load_workflow_text
    from opsflow.store.migrate import HEAD

    # The search indexes are made at registration: a database cached with other indexes
    # would measure them, not the ones opsflow makes now.
    loaded, _problems = load_workflow_text(workflow, "bench.yaml", LoadContext())
    spec = loaded.spec if loaded is not None else None
    indexes = (
        []
        if spec is None
        else [*index_statements("sqlite", spec), *index_statements("postgresql", spec)]
    )
    text = "\n".join([LOADER_VERSION, HEAD, workflow, *indexes])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _rows(n: int, base: datetime, seed: int = 5) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``n`` (case row, start history entry) pairs, oldest first, the same for a seed."""
    from opsflow.engine.persist import entry_payload
    from opsflow.store.hashing import chain_hash

    rng = random.Random(seed)
    for i in range(n):
        case_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        at = base + timedelta(seconds=i)
        data = {
            "counter": 0,
            "title": f"case {i}",
            "budget": rng.randrange(BUDGETS),
            "kind": "ad" if i % AD_EVERY == 0 else "article",
        }
        entry = {
            "case_id": case_id,
            "seq": 1,
            "at": at,
            "actor": "ann",
            "kind": "start",
            "event": None,
            "from_state": None,
            "to_state": "open",
            "data_changes": {k: {"from": None, "to": v} for k, v in data.items()},
            "comment": None,
            "detail": {},
            "prev_hash": "",
        }
        entry["hash"] = chain_hash("", case_id, entry_payload(entry))
        case = {
            "id": case_id,
            "workflow": "bench",
            "version": 1,
            "state": "open",
            "data": data,
            "metrics": {},
            "actors": {},
            "rules": {},
            "created_by": "ann",
            "created_at": at,
            "updated_at": at,
            "entered_at": at,
            "visit": 1,
            "closed": False,
            "row_version": 1,
            "seq": 1,
            "last_hash": entry["hash"],
            "assignee": None,
        }
        yield case, entry


def _chunks(n: int) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    base = datetime(2020, 1, 1, tzinfo=UTC)
    cases: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for case, entry in _rows(n, base):
        cases.append(case)
        entries.append(entry)
        if len(cases) == CHUNK:
            yield cases, entries
            cases, entries = [], []
    if cases:
        yield cases, entries


def _register(url: str, root: Path) -> Any:
    """An engine on ``url`` with the schema made and the workflow's version registered."""
    from opsflow import Engine

    engine = Engine.from_config(root / "opsflow.yaml", db=url)
    engine.db.ensure_schema()
    engine.start("bench", actor="ann", data={"title": "registered", "budget": 0})
    return engine


def _fill_sqlite(url: str, root: Path, n: int) -> None:
    from sqlalchemy import insert

    from opsflow.store import tables
    from opsflow.store.prepared import Statement, run_many

    engine = _register(url, root)
    cases = Statement(insert(tables.cases), [c.name for c in tables.cases.columns])
    history = Statement(
        insert(tables.history), [c.name for c in tables.history.columns if c.name != "id"]
    )
    for case_rows, entry_rows in _chunks(n):
        with engine.db.write() as conn:
            run_many(conn, cases, case_rows)
            run_many(conn, history, entry_rows)
    with engine.db.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.close()


def sqlite_database(root: Path, n: int) -> str:
    """A SQLite URL of a database holding ``n`` bulk cases (plus the registering one)."""
    from benchmarks.common import project

    path = cache_dir() / f"bench-{n}-{cache_key()}.db"
    if not path.exists():
        began = time.perf_counter()
        building = path.with_suffix(".building")
        for leftover in (building, *building.parent.glob(building.name + "-*")):
            leftover.unlink(missing_ok=True)
        project(root / "loader", SEARCH_WORKFLOW)
        _fill_sqlite(f"sqlite:///{building}", root / "loader", n)
        for suffix in ("-wal", "-shm"):
            Path(f"{building}{suffix}").unlink(missing_ok=True)
        building.rename(path)
        print(f"  filled {path} in {time.perf_counter() - began:.0f}s", file=sys.stderr)
        shutil.rmtree(root / "loader", ignore_errors=True)
    return f"sqlite:///{path}"


# -- PostgreSQL ---------------------------------------------------------------------------

_COPY_CASES = (
    "id", "workflow", "version", "state", "data", "metrics", "actors", "rules", "created_by",
    "created_at", "updated_at", "entered_at", "visit", "closed", "row_version", "seq",
    "last_hash", "assignee",
)  # fmt: skip
_COPY_HISTORY = (
    "case_id", "seq", "at", "actor", "kind", "event", "from_state", "to_state",
    "data_changes", "comment", "detail", "prev_hash", "hash",
)  # fmt: skip
_JSON = frozenset({"data", "metrics", "actors", "rules", "data_changes", "detail"})


def _copy(cur: Any, table: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    from opsflow.jsontext import dumps

    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([dumps(row[c]) if c in _JSON else row[c] for c in columns])


def postgres_database(base_url: str, root: Path, n: int) -> str:
    """A URL of a PostgreSQL schema holding ``n`` bulk cases, kept between runs."""
    import psycopg

    from benchmarks.common import project
    from benchmarks.served import pg_schema, psycopg_dsn

    schema = f"opsflow_bench_cache_{n}_{cache_key()}"
    with psycopg.connect(psycopg_dsn(base_url), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'bench_loaded'",
            (schema,),
        ).fetchone()
        if not found:  # never filled, or a fill that did not finish: start again
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    with pg_schema(base_url, schema, keep=True) as url:
        if found:
            return url
        began = time.perf_counter()
        project(root / "loader", SEARCH_WORKFLOW)
        _register(url, root / "loader").close()
        with psycopg.connect(psycopg_dsn(base_url)) as conn, conn.cursor() as cur:
            cur.execute(f"SET search_path TO {schema}")
            for case_rows, entry_rows in _chunks(n):
                _copy(cur, "cases", _COPY_CASES, case_rows)
                _copy(cur, "history", _COPY_HISTORY, entry_rows)
            cur.execute("ANALYZE cases")
            cur.execute("ANALYZE history")
            cur.execute("CREATE TABLE bench_loaded (n integer)")  # the fill is complete
        print(f"  filled {schema} in {time.perf_counter() - began:.0f}s", file=sys.stderr)
        shutil.rmtree(root / "loader", ignore_errors=True)
        return url


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulkload", description=__doc__)
    parser.add_argument("n", type=int, help="cases")
    parser.add_argument("--postgres", metavar="URL", help="fill a PostgreSQL schema instead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            print(postgres_database(args.postgres, Path(tmp), args.n))
        else:
            print(sqlite_database(Path(tmp), args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
