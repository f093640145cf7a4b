"""Notifiers that fail: a webhook that answers 4xx/5xx or hangs; a token in its URL.

Through the real CLI: ``worker --once`` delivers the outbox; the worker keeps going, the
row is retried or failed as SPEC §6 says, and the ``${VAR}`` secret never shows up in
output, history or the database file.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from hardening_helpers import Project, Run

from http_servers import QuietHTTPServer

TOKEN = "s3cr3t-T0KEN-4242"


class Behaviour:
    code = 200
    hang = 0.0


@pytest.fixture
def server() -> Iterator[tuple[str, type[Behaviour]]]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(Behaviour.hang)
            self.send_response(Behaviour.code)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Behaviour.code, Behaviour.hang = 200, 0.0
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Behaviour
    httpd.shutdown()


def _project(project: Project, url: str) -> dict[str, str]:
    config = project.root / "opsflow.yaml"
    text = config.read_text().replace(
        "chat: {notifier: file, path: notifications.jsonl}",
        'chat: {notifier: webhook, url: "${HOOK_URL}", timeout: 0.5}',
    )
    config.write_text(text)
    return {"HOOK_URL": f"{url}/hook/{TOKEN}"}


def _approved_case(run: Run, env: dict[str, str]) -> str:
    case_id = run(
        "--as", "rita", "start", "expense", "--set", "title=x", "--set", "amount=3", env=env
    ).stdout.strip()
    assert run("--as", "rita", "fire", case_id, "submit", env=env).exit_code == 0
    assert run("--as", "max", "fire", case_id, "approve", env=env).exit_code == 0
    return case_id


@pytest.mark.parametrize(
    ("code", "hang", "status"),
    [
        (500, 0.0, "pending"),
        (503, 0.0, "pending"),
        (429, 0.0, "pending"),
        (400, 0.0, "failed"),
        (404, 0.0, "failed"),
        (200, 2.0, "pending"),
    ],
    ids=["500", "503", "429", "400", "404", "hangs"],
)
def test_a_failing_webhook_is_retried_or_failed_and_keeps_its_secret(
    project: Project,
    run: Run,
    server: tuple[str, type[Behaviour]],
    code: int,
    hang: float,
    status: str,
) -> None:
    url, behaviour = server
    env = _project(project, url)
    case_id = _approved_case(run, env)
    behaviour.code, behaviour.hang = code, hang
    started = time.perf_counter()
    worker = run("worker", "--once", env=env)
    assert time.perf_counter() - started < 30
    assert worker.exit_code in (0, 1), worker.output
    assert "Traceback" not in worker.output
    rows = json.loads(run("outbox", "--json", env=env).stdout)
    (row,) = [r for r in rows if r["case"] == case_id]
    assert row["status"] == status, row
    assert row["attempts"] >= 1
    for text in (
        worker.output,
        json.dumps(rows),
        run("history", case_id, "--json", env=env).stdout,
        run("--debug", "outbox", "--json", env=env).output,
        run("--debug", "worker", "--once", env=env).output,
    ):
        assert TOKEN not in text
    assert TOKEN.encode() not in project.db.read_bytes()
    wal = project.db.with_name("opsflow.db-wal")
    assert not wal.exists() or TOKEN.encode() not in wal.read_bytes()
    # opsflow still works: the case moves on
    assert run("--as", "fin", "fire", case_id, "pay", env=env).exit_code == 0


def test_a_later_notification_is_delivered_after_a_failing_one(
    project: Project, run: Run, server: tuple[str, type[Behaviour]]
) -> None:
    url, behaviour = server
    env = _project(project, url)
    behaviour.code = 400
    first = _approved_case(run, env)
    run("worker", "--once", env=env)
    behaviour.code = 200
    second = _approved_case(run, env)
    run("worker", "--once", env=env)
    rows = json.loads(run("outbox", "--json", env=env).stdout)
    assert sorted(r["status"] for r in rows) == ["delivered", "failed"], rows
    assert {r["case"] for r in rows} == {first, second}
