"""The service on many cases: search against hand-written SQL, and the inbox at two sizes.

``service-search-BACKEND-N``: ``GET /v1/cases?workflow=bench&where=budget >= X and budget
< X+W&limit=50`` over HTTP (``opsflow serve``, a keep-alive httpx client) on N bulk cases
(``benchmarks.bulkload``: ``budget`` is an ``index: true`` field, uniform over a million
values, so the range matches N·W/1,000,000 cases; W = 5,000: 5,000 of 1,000,000) against the
hand-written query over the same expression index on the bare driver (sqlite3 / psycopg):
the same 50 newest matches, their data decoded. Seconds per request; target ≤ 2.

``service-inbox-BACKEND-N``: the first page of ``GET /v1/inbox?limit=50`` with N open cases
against the same with 1,000; both over HTTP, each database served by its own
``opsflow serve``. Seconds per request; target ≤ 1.5.

N is 1,000,000 (``--quick``: 100,000; ``--dry``: 2,000). The databases are cached on disk
(see ``benchmarks.bulkload``): the first run fills them, which takes minutes at 1,000,000.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.bulkload import BUDGETS, SEARCH_WORKFLOW, postgres_database, sqlite_database
from benchmarks.common import Figure, Options, interleave, project, workdir
from benchmarks.served import Served, make_token, psycopg_dsn

WIDTH = 5_000  # of the budget range: a where matching 0.5% of the cases
PAGE = 50
SMALL = 1_000
STARTS = [(k * 97_331) % (BUDGETS - WIDTH) for k in range(8)]  # the ranges asked, in turn


def _size(options: Options) -> int:
    return options.pick(1_000_000, 100_000, 2_000)


def _per_request(ask: Callable[[int], Any], requests: int) -> Callable[[], float]:
    """A sample: the median seconds of ``requests`` calls of ``ask`` (over the ranges)."""

    def sample() -> float:
        times = []
        for k in range(requests):
            start = time.perf_counter()
            ask(STARTS[k % len(STARTS)])
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return sample


def _serve(root: Path, url: str, options: Options) -> tuple[Served, str]:
    from opsflow import Engine

    engine = Engine.from_config(root / "opsflow.yaml", db=url)
    token = make_token(engine)
    engine.close()
    return Served(root, url, options=options.serve_options), token


def _where(low: int) -> str:
    return f"budget >= {low} and budget < {low + WIDTH}"


def _http_search(client: Any) -> Callable[[int], list[str]]:
    def ask(low: int) -> list[str]:
        params = {"workflow": "bench", "where": _where(low), "limit": PAGE}
        answer = client.get("/v1/cases", params=params)
        if answer.status_code != 200:
            raise RuntimeError(f"GET /v1/cases answered {answer.status_code}: {answer.text}")
        return [item["id"] for item in answer.json()["items"]]

    return ask


def _sql_search(dialect: str, url: str) -> tuple[Callable[[int], list[str]], Callable[[], None]]:
    """The hand-written query on the bare driver, over the field's expression index."""
    from opsflow.engine.where_sql import field_sql
    from opsflow.jsontext import loads

    budget = field_sql(dialect, "number", "budget")
    mark = "?" if dialect == "sqlite" else "%s"
    sql = (
        f"SELECT id, workflow, version, state, data, created_at, updated_at FROM cases "
        f"WHERE workflow = {mark} AND {budget} >= {mark} AND {budget} < {mark} "
        f"ORDER BY created_at DESC, id DESC LIMIT {PAGE}"
    )
    if dialect == "sqlite":
        import sqlite3

        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        import psycopg

        conn = psycopg.connect(psycopg_dsn(url), autocommit=True)

    def ask(low: int) -> list[str]:
        rows = conn.execute(sql, ("bench", low, low + WIDTH)).fetchall()
        decoded = [loads(row[4]) for row in rows]  # the data, as a reader needs it
        assert len(decoded) == len(rows)
        return [row[0] for row in rows]

    return ask, conn.close


class _Cpu:
    """CPU seconds spent by the calls of ``ask`` in this process, and how many there were."""

    def __init__(self, ask: Callable[[int], Any]) -> None:
        self.ask = ask
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, low: int) -> Any:
        start = time.process_time()
        try:
            return self.ask(low)
        finally:
            self.seconds += time.process_time() - start
            self.calls += 1

    def per_call_us(self, extra: float = 0.0) -> int:
        return round(1e6 * (self.seconds + extra) / max(self.calls, 1))


def _search_figure(options: Options, dialect: str, url: str, root: Path, n: int) -> Figure:
    requests = options.pick(20, 10, 2)
    server, token = _serve(root, url, options)
    sql, close = _sql_search(dialect, url)
    try:
        with server.client(token) as client:
            http = _http_search(client)
            for low in STARTS:  # warm up, and both sides answer the same cases
                if http(low) != sql(low):
                    raise RuntimeError(f"search and the hand-written query differ at {low}")
            # CPU per request, steadier than wall time on a shared machine: the client's
            # (httpx, decoding the page) and the server's (its process, every thread)
            http_cpu, sql_cpu, served = _Cpu(http), _Cpu(sql), server.cpu()
            xs, ys, ratios = interleave(
                _per_request(http_cpu, requests),
                _per_request(sql_cpu, requests),
                options.n_rounds(7),
                rate=False,
            )
            server_cpu = server.cpu() - served
    finally:
        server.stop()
        close()
    backend = "sqlite" if dialect == "sqlite" else "postgres"
    return Figure(
        name=f"service-search-{backend}-{n}",
        what=f"GET /v1/cases?where=<range on an index: true field> on {n:,} cases ÷ the "
        "hand-written SQL over the same index (s/request)",
        a_label="HTTP search",
        b_label="hand-written SQL",
        unit="s",
        a=xs,
        b=ys,
        ratios=ratios,
        target=2,
        better="<=",
        notes={
            "cases": n,
            "matches": n * WIDTH // BUDGETS,
            "page": PAGE,
            "cpu_us_per_request": {
                "http_client": http_cpu.per_call_us(),
                "http_server": round(1e6 * server_cpu / max(http_cpu.calls, 1)),
                "sql": sql_cpu.per_call_us(),
            },
        },
    )


def _inbox_figure(
    options: Options, backend: str, urls: tuple[str, str], root: Path, n: int
) -> Figure:
    requests = options.pick(20, 10, 2)
    (big, big_token), (small, small_token) = (
        _serve(root, urls[0], options),
        _serve(root, urls[1], options),
    )
    try:
        with big.client(big_token) as big_client, small.client(small_token) as small_client:

            def first_page(client: Any) -> Callable[[int], Any]:
                def ask(_: int) -> None:
                    answer = client.get("/v1/inbox", params={"limit": PAGE})
                    if answer.status_code != 200 or len(answer.json()["items"]) != PAGE:
                        raise RuntimeError(f"GET /v1/inbox answered {answer.text[:300]}")

                return ask

            a, b = first_page(big_client), first_page(small_client)
            a(0), b(0)
            xs, ys, ratios = interleave(
                _per_request(a, requests),
                _per_request(b, requests),
                options.n_rounds(7),
                rate=False,
            )
    finally:
        big.stop()
        small.stop()
    return Figure(
        name=f"service-inbox-{backend}-{n}",
        what=f"first page of GET /v1/inbox: {n:,} open cases ÷ {SMALL:,} (s/request)",
        a_label=f"{n:,} cases",
        b_label=f"{SMALL:,} cases",
        unit="s",
        a=xs,
        b=ys,
        ratios=ratios,
        target=1.5,
        better="<=",
        notes={"cases": [n, SMALL], "page": PAGE},
    )


def _endpoint_exists(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"opsflow.service.{module}") is not None


def service_search(options: Options) -> list[Figure]:
    if not _endpoint_exists("routes_search"):
        return []
    n = _size(options)
    figures = []
    with workdir(options, "service-search") as root:
        project(root, SEARCH_WORKFLOW)
        figures.append(_search_figure(options, "sqlite", sqlite_database(root, n), root, n))
        if options.postgres_url:
            url = postgres_database(options.postgres_url, root, n)
            figures.append(_search_figure(options, "postgresql", url, root, n))
    return figures


def service_inbox(options: Options) -> list[Figure]:
    if not _endpoint_exists("routes_inbox"):
        return []
    n = _size(options)
    figures = []
    with workdir(options, "service-inbox") as root:
        project(root, SEARCH_WORKFLOW)
        urls = (sqlite_database(root, n), sqlite_database(root, SMALL))
        figures.append(_inbox_figure(options, "sqlite", urls, root, n))
        if options.postgres_url:
            base = options.postgres_url
            urls = (postgres_database(base, root, n), postgres_database(base, root, SMALL))
            figures.append(_inbox_figure(options, "postgres", urls, root, n))
    return figures
