"""Two ``opsflow serve`` and two ``opsflow worker`` processes on one PostgreSQL schema.

As two hosts would run them: eight HTTP clients race fires on three shared cases through
both servers while the workers fire the cases' deadlines. Every acknowledged fire must be
in the history exactly once (each request carries its own comment and Idempotency-Key),
nothing unacknowledged may be there, no answer is a 5xx other than 503 with Retry-After,
the workers stop cleanly on SIGTERM and the audit chain verifies. PostgreSQL only: SQLite
is one host's database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import Served, make_tokens, write_project

from opsflow_process import clean_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("OPSFLOW_TEST_POSTGRES_URL"),
        reason="OPSFLOW_TEST_POSTGRES_URL is not set",
    ),
]

CLIENTS = 8
FIRES_PER_CLIENT = 20
CASES = 3
# `bump` can be fired again and again (an internal transition: the case stays in its visit
# of `open`); the workers fire `ping`, which re-enters `open`, every second or so, so
# their steps race the clients' on the same rows.
TALLY = """\
workflow: tally
version: 1
title: Tally
roles: [author, editor]
fields:
  count: {type: integer, default: 0}
  pings: {type: integer, default: 0}
states:
  open:
    initial: true
    sla: {within: 1s, fire: ping}
  closed: {final: true}
transitions:
  - event: bump
    from: open
    roles: [author, editor]
    do: [{set: {count: "count + 1"}}]
  - event: ping
    from: open
    to: open
    do: [{set: {pings: "pings + 1"}}]
  - {event: close, from: open, to: closed, roles: [editor]}
"""


def _start_worker(root: Path, db_url: str, name: str) -> subprocess.Popen[bytes]:
    log = (root / f"{name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "opsflow", "--db", db_url, "worker", "--interval", "0.2"],
        cwd=root,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _race(servers: list[Served], cases: list[str]) -> list[dict[str, Any]]:
    """Each client fires ``bump`` FIRES_PER_CLIENT times, across both servers and the cases."""
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        who = ("ann", "ed")[n % 2]
        clients = [
            httpx.Client(base_url=s.base, headers={"Authorization": f"Bearer {s.tokens[who]}"})
            for s in servers
        ]
        start.wait()
        try:
            for i in range(FIRES_PER_CLIENT):
                mark = f"c{n}-{i}"
                case = cases[(n + i) % len(cases)]
                answer = clients[(n + i) % len(clients)].post(
                    f"/v1/cases/{case}/events/bump",
                    json={"comment": mark},
                    headers={"Idempotency-Key": mark},
                    timeout=60,
                )
                with lock:
                    answers.append(
                        {
                            "mark": mark,
                            "case": case,
                            "status": answer.status_code,
                            "retry_after": answer.headers.get("retry-after"),
                            "body": answer.text,
                        }
                    )
        finally:
            for c in clients:
                c.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client did not finish"
    return answers


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_servers_and_two_workers_share_one_database(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "tally.yaml").write_text(TALLY, encoding="utf-8")
    root = write_project(tmp_path / "project", [tmp_path / "tally.yaml"])
    tokens = make_tokens(db_url, root)
    servers: list[Served] = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        servers = [Served(root, db_url, tokens, wait=False) for _ in range(2)]
        workers = [_start_worker(root, db_url, f"worker-{n}") for n in range(2)]
        for server in servers:
            server.wait_ready()
        cases = [servers[n % 2].start_case("tally") for n in range(CASES)]
        answers = _race(servers, cases)
    finally:
        for worker in workers:
            worker.terminate()
        worker_status = [w.wait(timeout=60) for w in workers]
        for server in servers:
            server.stop()
    assert worker_status == [0, 0], [(root / f"worker-{n}.log").read_text() for n in range(2)]

    assert len(answers) == CLIENTS * FIRES_PER_CLIENT
    for a in answers:  # never a 5xx but 503 with Retry-After; nothing else unexpected
        assert a["status"] in (200, 409, 503), a
        assert a["status"] != 503 or a["retry_after"], a
    acknowledged = [a for a in answers if a["status"] == 200]
    assert len(acknowledged) >= len(answers) // 2, Counter(a["status"] for a in answers)

    from opsflow.facade import Engine

    engine = Engine.from_config(root / "opsflow.yaml", db=db_url)
    try:
        for case in cases:
            bumps = [
                e.comment for e in engine.history(case) if e.event == "bump" and e.kind != "denied"
            ]
            expected = [a["mark"] for a in acknowledged if a["case"] == case]
            assert Counter(bumps) == Counter(expected)  # each once, and nothing else
            assert max(Counter(bumps).values(), default=1) == 1
            assert engine.status(case).data["count"] == len(expected)
        checked, problems = engine.audit_verify()
        assert problems == []
        assert checked >= CASES
    finally:
        engine.close()
