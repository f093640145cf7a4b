"""A worker SIGKILLed in the middle of a delivery loses no notification (SPEC §6)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from faults_helpers import FaultProject, clean_env
from sqlalchemy import create_engine, select

from http_servers import QuietHTTPServer
from opsflow.store import tables as t

NOTIFYING = """\
workflow: ticket
version: 1
roles: [agent, judge]
fields:
  title: {type: string, required: true}
states:
  open: {initial: true}
  accepted:
    final: true
    on_enter: [{notify: {channel: hook, to: agent, message: "{{ title }} accepted"}}]
  declined: {final: true}
transitions:
  - {event: accept, from: open, to: accepted, roles: [judge]}
  - {event: decline, from: open, to: declined, roles: [judge]}
"""


class Gateway:
    """A webhook receiver that hangs on its first request, then answers 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.first_seen = threading.Event()
        self.release = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                gateway.requests.append(
                    {"key": self.headers.get("Idempotency-Key"), "body": json.loads(body)}
                )
                if len(gateway.requests) == 1:
                    gateway.first_seen.set()
                    gateway.release.wait(60)
                    return  # the client is gone by now
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    found = Gateway()
    yield found
    found.close()


def _outbox(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(t.outbox).order_by(t.outbox.c.id)))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_worker_killed_while_delivering_loses_nothing(
    fault_project: FaultProject, gateway: Gateway
) -> None:
    root: Path = fault_project.root
    (root / "workflows" / "ticket.yaml").write_text(NOTIFYING, encoding="utf-8")
    config = (root / "opsflow.yaml").read_text(encoding="utf-8")
    config += f"channels:\n  hook: {{notifier: webhook, url: '{gateway.url}', timeout: 60}}\n"
    (root / "opsflow.yaml").write_text(config, encoding="utf-8")
    now = "2026-03-02T09:00:00+00:00"  # every process of this test runs on this clock
    started = fault_project.cli(
        "--as", "ann", "start", "ticket", "--set", "title=T", env={"OPSFLOW_NOW": now}
    )
    assert started.returncode == 0, started.stderr
    case_id = started.stdout.strip()
    fired = fault_project.cli("--as", "jo", "fire", case_id, "accept", env={"OPSFLOW_NOW": now})
    assert fired.returncode == 0, fired.stderr

    worker = subprocess.Popen(
        [sys.executable, "-m", "opsflow", "--db", fault_project.url, "worker", "--once"],
        cwd=root,
        env=clean_env({"OPSFLOW_NOW": now}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert gateway.first_seen.wait(60), "the worker never reached the gateway"
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    [row] = _outbox(fault_project.url)
    assert row.status == "pending"  # claimed by the dead worker, not lost, not delivered

    # Before the lease runs out nobody else takes it; after it, the next worker delivers.
    early = fault_project.cli("worker", "--once", "--json", env={"OPSFLOW_NOW": now})
    assert early.returncode == 0, early.stderr
    assert json.loads(early.stdout)["delivered"] == 0
    later = (datetime.fromisoformat(now) + timedelta(minutes=30)).isoformat()  # past the lease
    done = fault_project.cli("worker", "--once", "--json", env={"OPSFLOW_NOW": later})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] == 1
    [row] = _outbox(fault_project.url)
    assert row.status == "delivered"
    deadline = time.monotonic() + 10
    while len(gateway.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(gateway.requests) == 2
    keys = {r["key"] for r in gateway.requests}
    assert keys == {row.dedupe_key}  # the same Idempotency-Key both times
    assert gateway.requests[1]["body"]["message"] == "T accepted"
