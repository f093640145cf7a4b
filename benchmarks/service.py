"""The service: a fire over HTTP against the same fire through the Python API, same run.

``service-fire-sqlite``: one ``opsflow serve`` process (uvicorn over TCP on 127.0.0.1) and
one keep-alive ``httpx.Client`` firing ``bump`` on one case, against ``Engine.fire`` of
``bump`` in-process on an equal SQLite file (the same schema, one case, WAL, fsync).
``service-fire-sqlite-stdlib``: the same server in the same rounds through the standard
library's ``http.client``, a client that costs a fraction of httpx's CPU: a single client
waits for each answer, so its own CPU adds to every fire's time. The notes give CPU per
fire (client + server, and the server alone), steadier than wall time on a shared machine.

``service-fire-postgres-4`` (httpx) and ``-4-stdlib`` (http.client, the same rounds): four
client processes on four different cases. The Python
API side is four processes each calling ``Engine.fire`` (as ``fire-postgres-4``); the HTTP
side is four processes each with its own keep-alive client against
``opsflow serve --workers 4``: four processes doing the engine's work on each side, so
the gap is what the service adds (HTTP parsing, routing, the token check, JSON) plus
the clients' own cost, which shares the machine's CPUs with the servers. The clients'
CPU per request is reported in the notes.

Both are rates (fires/s); the ratio is HTTP ÷ Python API, target ≥ 0.5.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, Options, project, workdir
from benchmarks.served import Served, make_token, pg_schema


def _engine(url: str, root: Path) -> Any:
    from opsflow import Engine

    return Engine.from_config(root / "opsflow.yaml", db=url)


class HttpFires:
    """``n`` fires of ``bump`` on one case through a keep-alive client."""

    def __init__(self, client: Any, case_id: str) -> None:
        self.client = client
        self.path = f"/v1/cases/{case_id}/events/bump"

    def fires(self, n: int) -> float:
        post, path = self.client.post, self.path
        start = time.perf_counter()
        for _ in range(n):
            answer = post(path)
            if answer.status_code != 200:
                raise RuntimeError(f"fire over HTTP answered {answer.status_code}: {answer.text}")
        return n / (time.perf_counter() - start)


class ApiFires:
    """``n`` fires of ``bump`` on one case with ``Engine.fire`` in this process."""

    def __init__(self, engine: Any, case_id: str) -> None:
        self.engine = engine
        self.case = case_id

    def fires(self, n: int) -> float:
        engine, case = self.engine, self.case
        start = time.perf_counter()
        for _ in range(n):
            engine.fire(case, "bump", actor="ann")
        return n / (time.perf_counter() - start)


def _served_case(url: str, root: Path) -> tuple[str, str]:
    """The database ``url`` made ready for a server: a token and one case."""
    engine = _engine(url, root)
    engine.db.ensure_schema()
    token = make_token(engine)
    case = engine.start("bench", actor="ann").id
    engine.close()
    return token, case


def service_fire(options: Options) -> list[Figure]:
    figures = _fire_sqlite(options)
    if options.postgres_url:
        figures.extend(_fire_postgres(options, clients=4))
    return figures


class StdlibFires:
    """``n`` fires through the standard library's ``http.client``: a lean keep-alive client.

    A fresh connection per sample: uvicorn closes one idle for 5 s, as between samples.
    """

    def __init__(self, port: int, token: str, case_id: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Length": "0"}
        self.path = f"/v1/cases/{case_id}/events/bump"

    def fires(self, n: int) -> float:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        path, headers = self.path, self.headers
        start = time.perf_counter()
        for _ in range(n):
            conn.request("POST", path, headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise RuntimeError(f"fire over HTTP answered {answer.status}: {body!r}")
        rate = n / (time.perf_counter() - start)
        conn.close()
        return rate


def _fire_sqlite(options: Options) -> list[Figure]:
    """Rounds of three sides: httpx, http.client (both against one server), Engine.fire."""
    n = options.pick(400, 150, 10)
    with workdir(options, "service-sqlite") as root:
        project(root)
        http_url = f"sqlite:///{root / 'http.db'}"
        token, http_case = _served_case(http_url, root)
        engine = _engine(f"sqlite:///{root / 'api.db'}", root)
        api = ApiFires(engine, engine.start("bench", actor="ann").id)
        server = Served(root, http_url, options=options.serve_options)
        cpu: dict[str, list[float]] = {"httpx": [], "stdlib": [], "api": []}
        server_cpu: dict[str, list[float]] = {"httpx": [], "stdlib": []}

        def timed(kind: str, side: Any) -> Any:
            def run() -> float:
                own, served = time.process_time(), server.cpu()
                rate = side.fires(n)
                by_server = server.cpu() - served
                cpu[kind].append((time.process_time() - own + by_server) / n)
                if kind in server_cpu:
                    server_cpu[kind].append(by_server / n)
                return float(rate)

            return run

        try:
            with server.client(token) as client:
                httpx_side = timed("httpx", HttpFires(client, http_case))
                stdlib_side = timed("stdlib", StdlibFires(server.port, token, http_case))
                api_side = timed("api", api)
                for side in (httpx_side, stdlib_side, api_side):  # warm up
                    side()
                for values in (*cpu.values(), *server_cpu.values()):
                    values.clear()
                samples = _three_sides(httpx_side, stdlib_side, api_side, options.n_rounds(11))
        finally:
            server.stop()
            engine.close()
    (hx, std, base) = samples
    notes = {
        "fires": n,
        # CPU is steadier than wall time on a shared machine: client + server for HTTP
        "cpu_us_per_fire": {k: round(1e6 * statistics.median(v)) for k, v in cpu.items()},
        "server_cpu_us_per_fire": {
            k: round(1e6 * statistics.median(v)) for k, v in server_cpu.items()
        },
    }
    return [
        _figure(
            "service-fire-sqlite", "SQLite, 1 httpx client", hx, base, _ratios(hx, base), notes
        ),
        _figure(
            "service-fire-sqlite-stdlib",
            "SQLite, 1 http.client client",
            std,
            base,
            _ratios(std, base),
            notes,
        ),
    ]


def _ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def _three_sides(
    first: Any, second: Any, base: Any, rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """Rounds of the three (reversed on odd rounds), as ``interleave`` does for two."""
    out: tuple[list[float], list[float], list[float]] = ([], [], [])
    for i in range(rounds):
        order = [0, 1, 2] if i % 2 == 0 else [2, 1, 0]
        got = {}
        for which in order:
            got[which] = (first, second, base)[which]()
        for which in range(3):
            out[which].append(got[which])
    return out


def _figure(
    name: str, what: str, xs: list[float], ys: list[float], ratios: list[float], notes: Any
) -> Figure:
    return Figure(
        name=name,
        what=f"a fire over HTTP ÷ Engine.fire, {what} (fires/s)",
        a_label="HTTP (opsflow serve)",
        b_label="Engine.fire",
        unit="fires/s",
        a=xs,
        b=ys,
        ratios=ratios,
        target=0.5,
        better=">=",
        notes=notes,
    )


# -- PostgreSQL, several clients -------------------------------------------------------------


def _client(pipe: Any, url: str, root: str, barrier: Any, base: str, token: str) -> None:
    """One client process: its own case for each side; fires when told, between barriers."""
    import httpx

    engine = _engine(url, Path(root))
    api = ApiFires(engine, engine.start("bench", actor="ann").id)
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    http_case = engine.start("bench", actor="ann").id
    sides = {
        "httpx": HttpFires(client, http_case),
        "stdlib": StdlibFires(int(base.rsplit(":", 1)[1]), token, http_case),
        "api": api,
    }
    pipe.send("ready")
    while True:
        message = pipe.recv()
        if message is None:
            break
        kind, n = message
        barrier.wait()
        cpu, start = time.process_time(), time.perf_counter()
        sides[kind].fires(n)
        pipe.send((start, time.perf_counter(), time.process_time() - cpu))
    client.close()
    engine.close()


def _fire_postgres(options: Options, clients: int) -> list[Figure]:
    with pg_schema(options.postgres_url or "") as url, workdir(options, "service-pg") as root:
        project(root)
        token, _ = _served_case(url, root)
        server = Served(root, url, workers=clients, options=options.serve_options)
        try:
            return _pg_rounds(options, url, root, server, token, clients)
        finally:
            server.stop()


def _pg_rounds(
    options: Options, url: str, root: Path, server: Served, token: str, clients: int
) -> list[Figure]:
    n = options.pick(300, 100, 5)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients)
    pipes, procs = [], []
    for _ in range(clients):
        parent, child = ctx.Pipe()
        args = (child, url, str(root), barrier, server.base, token)
        proc = ctx.Process(target=_client, args=args, daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise RuntimeError("a benchmark client failed to start")
    cpu: dict[str, list[float]] = {"httpx": [], "stdlib": [], "api": []}

    def run(kind: str) -> float:
        for pipe in pipes:
            pipe.send((kind, n))
        spans = [pipe.recv() for pipe in pipes]
        cpu[kind].append(sum(c for _, _, c in spans) / (clients * n))
        return clients * n / (max(e for _, e, _ in spans) - min(s for s, _, _ in spans))

    try:
        for kind in cpu:  # warm up
            run(kind)
            cpu[kind].clear()
        hx, std, base = _three_sides(
            lambda: run("httpx"), lambda: run("stdlib"), lambda: run("api"), options.n_rounds(9)
        )
    finally:
        for pipe in pipes:
            pipe.send(None)
        for proc in procs:
            proc.join(timeout=30)
    notes = {
        "fires_per_client_per_sample": n,
        "clients": clients,
        "serve_workers": clients,
        "client_cpu_us_per_fire": {
            k: round(1e6 * statistics.median(v)) for k, v in cpu.items()
        },  # the API side's is the whole engine's work
    }
    what = f"PostgreSQL, {clients} clients on different cases"
    name = f"service-fire-postgres-{clients}"
    return [
        _figure(name, f"{what}, httpx", hx, base, _ratios(hx, base), notes),
        _figure(f"{name}-stdlib", f"{what}, http.client", std, base, _ratios(std, base), notes),
    ]
