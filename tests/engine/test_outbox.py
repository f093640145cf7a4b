"""Outbox delivery (SPEC §6): backoff on opsflow's clock, leases, retry, secrets, crashes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from http_servers import QuietHTTPServer
from opsflow.builtins.notifiers import NotifierError, PermanentNotifierError
from opsflow.errors import NotFound, Refused
from opsflow.plugins import Notification, Plugins
from opsflow.runners import outbox
from opsflow.store import tables as t
from opsflow.testing import builtin_plugins

TOKEN = "hOoKt0ken5ecret"


class Crash(BaseException):
    """A worker dying mid-attempt (not an Exception: nothing in the outbox catches it)."""


class FakeNotifier:
    """A notifier that records notifications and fails as told."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.fail: Callable[[Notification], BaseException | None] = lambda _n: None
        self.delay = 0.0
        self.lock = threading.Lock()

    def __call__(self, notification: Notification) -> None:
        if self.delay:
            time.sleep(self.delay)
        problem = self.fail(notification)
        if problem is not None:
            raise problem
        with self.lock:
            self.sent.append(notification)


@pytest.fixture
def fake() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def plugins(fake: FakeNotifier) -> Plugins:
    loaded = builtin_plugins()
    loaded.notifiers["fake"] = fake
    return loaded


@pytest.fixture
def make(make_engine: Callable[..., Any], plugins: Plugins) -> Callable[..., Any]:
    """Engines whose ``chat`` channel uses the fake notifier."""

    def build(**channel: Any) -> Any:
        engine = make_engine(plugins=plugins)
        engine.settings.channels = {"chat": {"notifier": "fake", **channel}}
        return engine

    return build


def notify(engine: Any, count: int = 1) -> list[int]:
    """Write ``count`` notifications (one per case) and return their outbox ids."""
    for n in range(count):
        case = engine.start("review", {"title": f"t{n}"}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")
    return sorted(row.id for row in engine.outbox())


def row(engine: Any, notification_id: int) -> Any:
    [found] = [r for r in engine.outbox() if r.id == notification_id]
    return found


# -- backoff ---------------------------------------------------------------------------------


def test_the_default_schedule_gives_up_within_24_hours() -> None:
    assert outbox.MAX_ATTEMPTS == 12
    delays = [outbox.backoff_delay(n) for n in range(1, outbox.MAX_ATTEMPTS)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == timedelta(hours=6)
    shortest, longest = outbox.schedule_bounds()
    assert shortest == timedelta(hours=14, minutes=31, seconds=30)
    assert longest < timedelta(hours=24)


def test_failures_back_off_on_opsflows_clock_then_fail(
    make: Callable[..., Any], fake: FakeNotifier, clock: Any
) -> None:
    engine = make()
    [nid] = notify(engine)
    fake.fail = lambda _n: NotifierError("503 from the robot")
    first = clock.now
    waits: list[timedelta] = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        report = engine.deliver_outbox()
        current = row(engine, nid)
        assert current.attempts == attempt
        assert current.last_error == "NotifierError: 503 from the robot"
        if attempt == outbox.MAX_ATTEMPTS:
            assert report.failed == 1
            assert current.status == "failed"
            break
        assert report.retried == 1
        assert current.status == "pending"
        wait = current.next_attempt_at - clock.now
        base = outbox.backoff_delay(attempt)
        assert base <= wait <= base * (1 + outbox.BACKOFF_JITTER)
        waits.append(wait)
        clock.now = current.next_attempt_at - timedelta(seconds=1)
        assert engine.deliver_outbox().retried == 0  # not due yet: no attempt
        assert row(engine, nid).attempts == attempt
        clock.now = current.next_attempt_at
    assert all(a < b for a, b in zip(waits[:9], waits[1:10], strict=True))  # growing to the cap
    assert any(w != outbox.backoff_delay(i + 1) for i, w in enumerate(waits))  # jittered
    assert clock.now - first < timedelta(hours=24)
    assert [r.id for r in engine.outbox(failed=True)] == [nid]
    assert fake.sent == []


def test_a_permanent_error_fails_at_once(make: Callable[..., Any], fake: FakeNotifier) -> None:
    engine = make()
    [nid] = notify(engine)
    fake.fail = lambda _n: PermanentNotifierError("HTTP 404")
    report = engine.deliver_outbox()
    assert report.failed == 1
    assert "refused for good" in report.errors[0]
    failed = row(engine, nid)
    assert (failed.status, failed.attempts) == ("failed", 1)


def test_a_notifier_that_raises_mid_batch_leaves_the_other_rows_alone(
    make: Callable[..., Any], fake: FakeNotifier
) -> None:
    engine = make()
    ids = notify(engine, 3)
    bad = row(engine, ids[1]).dedupe_key
    fake.fail = lambda n: RuntimeError("boom") if n.dedupe_key == bad else None
    report = engine.deliver_outbox()
    assert (report.delivered, report.retried) == (2, 1)
    assert [row(engine, i).status for i in ids] == ["delivered", "pending", "delivered"]
    assert row(engine, ids[1]).attempts == 1


def test_the_notifier_gets_the_row_and_the_channel_settings(
    make: Callable[..., Any], fake: FakeNotifier, tmp_path: Path
) -> None:
    engine = make(extra="x")
    [nid] = notify(engine)
    engine.deliver_outbox()
    [sent] = fake.sent
    stored = row(engine, nid)
    assert (sent.channel, sent.to, sent.dedupe_key) == ("chat", "editor", stored.dedupe_key)
    assert sent.message == stored.message
    assert sent.settings["extra"] == "x"
    assert sent.settings["_base_dir"] == str(tmp_path)
    assert sent.settings["_team"]["ed"] == ["editor"]
    assert stored.delivered_at is not None


# -- leases ----------------------------------------------------------------------------------


def test_a_crashed_workers_lease_expires_and_the_row_is_delivered_again(
    make: Callable[..., Any], fake: FakeNotifier, clock: Any
) -> None:
    first, second = make(), make()
    ids = notify(first, 3)
    crashing = row(first, ids[1]).dedupe_key
    fake.fail = lambda n: Crash() if n.dedupe_key == crashing else None
    with pytest.raises(Crash):
        first.deliver_outbox()
    assert [row(first, i).status for i in ids] == ["delivered", "pending", "pending"]
    assert [row(first, i).attempts for i in ids] == [1, 0, 0]
    fake.fail = lambda _n: None
    assert second.deliver_outbox().delivered == 1  # the third; the second is still leased
    assert row(first, ids[1]).status == "pending"
    clock.advance(minutes=outbox.LEASE.total_seconds() / 60 + 1)
    assert second.deliver_outbox().delivered == 1
    assert [row(first, i).status for i in ids] == ["delivered"] * 3


@pytest.mark.parametrize("attempt", range(2))
def test_two_workers_deliver_each_row_once(
    make: Callable[..., Any], fake: FakeNotifier, attempt: int
) -> None:
    engines = [make(), make()]
    ids = notify(engines[0], 12)
    fake.delay = 0.01
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        barrier.wait()
        try:
            engines[index].deliver_outbox()
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    keys = [n.dedupe_key for n in fake.sent]
    assert len(keys) == len(set(keys)) == len(ids)
    assert {row(engines[0], i).status for i in ids} == {"delivered"}
    assert {row(engines[0], i).attempts for i in ids} == {1}


def test_an_outcome_is_not_written_after_the_lease_was_lost(
    make: Callable[..., Any], fake: FakeNotifier, clock: Any
) -> None:
    engine = make()
    [nid] = notify(engine)
    claimed = outbox._claim(engine, "old-worker")  # claimed, then the worker stalls
    assert claimed is not None
    clock.advance(minutes=10)
    assert engine.deliver_outbox().delivered == 1  # a second worker takes over
    report = outbox.WorkerReport()
    outbox._record(engine, claimed, "old-worker", "NotifierError: late", False, report)
    assert "lease expired" in report.errors[0]
    assert row(engine, nid).status == "delivered"


# -- retry -----------------------------------------------------------------------------------


def test_retry_queues_a_failed_notification_again(
    make: Callable[..., Any], fake: FakeNotifier, clock: Any
) -> None:
    engine = make()
    [nid] = notify(engine)
    fake.fail = lambda _n: PermanentNotifierError("HTTP 400")
    engine.deliver_outbox()
    clock.advance(hours=1)
    again = engine.retry_notification(nid)
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, clock.now)
    assert again.last_error == "PermanentNotifierError: HTTP 400"  # kept until the next attempt
    fake.fail = lambda _n: None
    assert engine.deliver_outbox().delivered == 1
    done = row(engine, nid)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 1, None)


def test_retry_refuses_unknown_and_unfailed_notifications(make: Callable[..., Any]) -> None:
    engine = make()
    [nid] = notify(engine)
    with pytest.raises(NotFound, match="no notification 999"):
        engine.retry_notification(999)
    with pytest.raises(Refused, match=f"notification {nid} is pending"):
        engine.retry_notification(nid)
    engine.deliver_outbox()
    with pytest.raises(Refused, match="is delivered"):
        engine.retry_notification(nid)


# -- real HTTP: idempotency and secrets ----------------------------------------------------


class Hook:
    """A local webhook receiver that answers each request with the next scripted status."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(
                (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status = state.statuses.pop(0) if state.statuses else 200
            answer = f"upstream rejected {self.path}".encode() if status >= 400 else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_retries_through_the_outbox_keep_the_idempotency_key(
    make_engine: Callable[..., Any], hook: Hook, clock: Any
) -> None:
    engine = make_engine(plugins=builtin_plugins())
    engine.settings.channels = {"chat": {"notifier": "webhook", "url": hook.url("/in")}}
    [nid] = notify(engine)
    hook.statuses = [503, 429]
    for _ in range(3):
        engine.deliver_outbox()
        clock.now = row(engine, nid).next_attempt_at or clock.now
    stored = row(engine, nid)
    assert (stored.status, stored.attempts) == ("delivered", 3)
    assert {h["idempotency-key"] for _p, h, _b in hook.requests} == {stored.dedupe_key}
    assert len({b for _p, _h, b in hook.requests}) == 1
    assert json.loads(hook.requests[0][2])["dedupe_key"] == stored.dedupe_key


def test_a_literal_webhook_token_never_reaches_last_error(
    make_engine: Callable[..., Any], hook: Hook
) -> None:
    engine = make_engine(plugins=builtin_plugins())
    url = hook.url(f"/hook/{TOKEN}?key={TOKEN}")  # written in opsflow.yaml, not ${VAR}
    engine.settings.channels = {"chat": {"notifier": "webhook", "url": url}}
    [nid] = notify(engine)
    hook.statuses = [500]
    engine.deliver_outbox()
    with engine.db.read() as conn:
        stored = conn.execute(select(t.outbox.c.last_error).where(t.outbox.c.id == nid)).scalar()
    assert stored
    assert "HTTP 500" in stored
    assert TOKEN not in stored
    assert TOKEN not in json.dumps([r.to_json() for r in engine.outbox()])


# -- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli_project(db_url: str, workflows_dir: Path, tmp_path: Path, hook: Hook) -> Path:
    """An opsflow.yaml whose ``chat`` channel posts to the local hook with a ${VAR} token."""
    config = tmp_path / "opsflow.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": db_url,
                "workflows": str(workflows_dir),
                "team": {"ann": ["author"], "ed": ["editor"]},
                "channels": {
                    "chat": {
                        "notifier": "webhook",
                        "url": hook.url("/hook/${HOOK_TOKEN}?key=${HOOK_TOKEN}"),
                        "timeout": 2,
                    }
                },
            }
        ),
        encoding="utf-8",
    )
    return config


def test_cli_lists_and_retries_without_showing_secrets(cli_project: Path, hook: Hook) -> None:
    from opsflow.cli import cli

    runner = CliRunner()
    env = {"HOOK_TOKEN": TOKEN, "OPSFLOW_NOW": "2026-01-05T09:00:00+00:00"}

    def run(*args: str, now: str | None = None) -> Any:
        extra = {"OPSFLOW_NOW": now} if now else {}
        return runner.invoke(cli, ["--config", str(cli_project), *args], env={**env, **extra})

    started = run("--as", "ann", "start", "review", "--set", "title=春季促销", "--json")
    assert started.exit_code == 0, started.output
    case = json.loads(started.stdout)["id"]
    assert run("--as", "ann", "fire", case, "submit").exit_code == 0
    hook.statuses = [404]
    worker = run("worker", "--once", "--json")
    assert worker.exit_code == 0, worker.output
    assert TOKEN not in worker.output
    assert json.loads(worker.stdout)["failed"] == 1
    listed = run("outbox", "--failed", "--json")
    assert listed.exit_code == 0
    assert TOKEN not in listed.output
    [failed] = json.loads(listed.stdout)
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert "HTTP 404" in failed["last_error"]
    assert f"http://127.0.0.1:{hook.port}/…" in failed["last_error"]
    human = run("outbox", "--failed")
    assert TOKEN not in human.output
    assert "failed" in human.output

    assert run("outbox", "retry", "999").exit_code == 5
    retried = run("outbox", "retry", str(failed["id"]), "--json", now="2026-01-05T10:00:00Z")
    assert retried.exit_code == 0, retried.output
    doc = json.loads(retried.stdout)
    assert (doc["status"], doc["attempts"]) == ("pending", 0)
    assert doc["next_attempt_at"] == "2026-01-05T10:00:00+00:00"  # opsflow's clock
    assert run("outbox", "retry", str(failed["id"])).exit_code == 4  # pending, not failed

    hook.statuses = [503]
    run("worker", "--once", now="2026-01-05T10:00:00Z")
    [pending] = json.loads(run("outbox", "--json").stdout)
    due = pending["next_attempt_at"]
    assert "2026-01-05T10:00:30" <= due <= "2026-01-05T10:00:38"  # 30 s + up to 25 %
    assert run("worker", "--once", now="2026-01-05T10:00:20Z").exit_code == 0
    assert len(hook.requests) == 2  # not due yet
    run("worker", "--once", now="2026-01-05T10:01:00Z")
    [done] = json.loads(run("outbox", "--json").stdout)
    assert (done["status"], done["attempts"]) == ("delivered", 2)
    assert {h["idempotency-key"] for _p, h, _b in hook.requests} == {done["dedupe_key"]}
    assert all(TOKEN in path for path, _h, _b in hook.requests)  # the real URL was used
    ok = run("outbox", "retry", str(done["id"]))
    assert ok.exit_code == 4
    assert "only a failed one can be retried" in ok.output
