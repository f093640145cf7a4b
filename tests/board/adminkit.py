"""Helpers of the admin pages' tests: a board whose ``dir`` is an admin, whose ``chat``
channel refuses every notification, and ways to make failed work and a broken chain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from boardkit import BASE, give_passwords
from fastapi.testclient import TestClient
from sqlalchemy import update

from opsflow.builtins.notifiers import PermanentNotifierError
from opsflow.plugins import Notification
from opsflow.service import create_app
from opsflow.store import tables
from opsflow.testing import builtin_plugins

ADMIN = "dir"
SECRET = "hOoKt0ken5ecret"  # a channel setting from ${VAR}: never shown


def refuse(notification: Notification) -> None:
    """A notifier whose receiving end refuses for good (the row fails at once)."""
    raise PermanentNotifierError(f"HTTP 404 from https://robot.example/{SECRET}/send")


def admin_board(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    """The board on a real app; ``dir`` is the admin; ``chat`` notifications fail."""
    plugins = builtin_plugins()
    plugins.notifiers["refusing"] = refuse
    engine = make_engine(plugins=plugins)
    engine.settings.admins = [ADMIN]
    engine.settings.channels = {"chat": {"notifier": "refusing"}}
    engine.settings.secrets = frozenset({SECRET})
    engine.db.ensure_schema()
    give_passwords(engine)
    with TestClient(create_app(engine), base_url=BASE, raise_server_exceptions=False) as client:
        yield client, engine


def failed_notifications(engine: Any, count: int) -> list[int]:
    """``count`` cases sent to review, each notification refused: their outbox ids."""
    for n in range(count):
        case = engine.start("review", {"title": f"稿件 {n}"}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")
    engine.deliver_outbox()
    return sorted(row.id for row in engine.outbox(failed=True))


def compute_incident(engine: Any, title: str = "Launch") -> tuple[str, int]:
    """A published case whose metric cannot be computed (no hits, no views): its incident."""
    case = engine.start("review", {"title": title}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "publish", actor="pat")
    [incident] = [i for i in engine.incidents() if i.case_id == case.id]
    return str(case.id), int(incident.id)


def tamper(engine: Any, case_id: str, seq: int, **values: Any) -> None:
    """Change a history entry as a database superuser would (PostgreSQL's guard off)."""
    with engine.db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        history = tables.history.c
        conn.execute(
            update(tables.history)
            .where(history.case_id == case_id, history.seq == seq)
            .values(**values)
        )
