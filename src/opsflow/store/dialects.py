"""Everything that differs between SQLite and PostgreSQL lives here, and nowhere else."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

DEFAULT_BUSY_TIMEOUT_S = 10.0


def busy_timeout() -> float:
    """Seconds SQLite waits for a lock before opsflow reports 'busy' (``OPSFLOW_BUSY_TIMEOUT``)."""
    raw = os.environ.get("OPSFLOW_BUSY_TIMEOUT")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_BUSY_TIMEOUT_S
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT_S


def engine_options(url: str) -> dict[str, Any]:
    """Keyword arguments for ``create_engine`` for this URL's dialect."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        options: dict[str, Any] = {
            "connect_args": {"timeout": busy_timeout(), "check_same_thread": False}
        }
        if parsed.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool
        return options
    if parsed.get_backend_name() == "postgresql":
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {}


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def install(engine: Engine) -> None:
    """Set up per-connection behaviour: SQLite pragmas and explicit BEGIN modes."""
    if engine.dialect.name != "sqlite":
        return
    memory = engine.url.database in (None, "", ":memory:")
    timeout_ms = int(busy_timeout() * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN IMMEDIATE is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        if not memory:
            _enable_wal(cursor, busy_timeout())
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: no deadlock-prone lock upgrade later.
        # On the driver itself: Core's execution machinery would cost more than SQLite's
        # BEGIN does. Inside a transaction begun on the driver (database._Transaction), a Core
        # statement's autobegin joins it.
        driver = conn.connection.driver_connection
        if driver.in_transaction:  # type: ignore[union-attr]
            return
        write = conn.get_execution_options().get("opsflow_write")
        statement = _BEGIN_IMMEDIATE if write else _BEGIN_DEFERRED
        try:
            driver.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc


_BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"
_BEGIN_DEFERRED = "BEGIN DEFERRED"


def begin_statement(conn: Connection, write: bool) -> str | None:
    """What to send the driver to begin a transaction on ``conn`` (None: the driver begins
    one by itself with its first statement, as psycopg does)."""
    if conn.dialect.name != "sqlite":
        return None
    return _BEGIN_IMMEDIATE if write else _BEGIN_DEFERRED


def _enable_wal(cursor: Any, timeout_s: float) -> None:
    """Switch a file to WAL (it stays so); wait for a racing first user, within the timeout.

    Changing the journal mode takes an exclusive lock and answers "database is locked"
    at once, without the busy handler, while another connection of a brand-new file holds
    a lock: several processes opening a new file together must retry here.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def install_statement_timeout(engine: Engine, limit_ms: Callable[[], int | None]) -> None:
    """PostgreSQL: each new connection cancels a statement (lock waits included) that runs
    longer than ``limit_ms()`` milliseconds (None or 0: no limit). SQLite has its busy
    timeout instead."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        limit = limit_ms()
        if not limit:
            return
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {int(limit)}")
        cursor.close()
        dbapi_connection.commit()  # a session setting, kept past the pool's rollbacks


def lock_clause_supported(engine: Engine | Connection) -> bool:
    """Whether ``SELECT … FOR UPDATE`` means anything (SQLite's writer lock already serialises)."""
    return engine.dialect.name == "postgresql"


def is_busy_error(exc: BaseException) -> bool:
    """A lock wait that ran out (SQLite 'database is locked', PostgreSQL lock timeout) or
    a statement past PostgreSQL's statement timeout (57014: a request's time budget)."""
    text = str(getattr(exc, "orig", exc)).lower()
    return (
        "database is locked" in text
        or "database table is locked" in text
        or ("lock timeout" in text)
        or ("statement timeout" in text)
    )


def is_serialization_error(exc: BaseException) -> bool:
    """A PostgreSQL serialization failure or deadlock: safe to retry the whole step."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01")


# What SQLite says when a file is not a database, or its pages are damaged.
_DAMAGED_FILE = ("file is not a database", "disk image is malformed", "malformed database schema")


def is_damaged_file(exc: Exception) -> bool:
    """Whether ``exc`` says the SQLite file is not a database, or a damaged one."""
    text = str(getattr(exc, "orig", None) or exc)
    return any(marker in text for marker in _DAMAGED_FILE)


def is_undecodable_text(exc: Exception) -> bool:
    """Whether ``exc`` is SQLite failing to read a stored text value as UTF-8."""
    return "Could not decode to UTF-8" in str(getattr(exc, "orig", None) or exc)
