"""The database handle: connections, write transactions, and error translation."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DataError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    PendingRollbackError,
)
from sqlalchemy.pool import PoolProxiedConnection

from opsflow.errors import (
    Busy,
    ConfigError,
    Damaged,
    Invalid,
    SerializationFailure,
    StaleConnection,
)
from opsflow.redact import redact_url
from opsflow.store import dialects, migrate
from opsflow.store.prepared import raise_driver_error
from opsflow.store.urls import checked_url

IDLE_PING_S = 1.0  # a kept PostgreSQL connection idle this long is pinged before use
BUSY_MESSAGE = "the database is busy (locked by another process past the busy timeout); try again"


class Database:
    """One database (SQLite file, SQLite in memory, or PostgreSQL) and how opsflow talks to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        checked_url(url, redact_url(url))
        try:
            self.engine: Engine = create_engine(url, **dialects.engine_options(url))
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError(f"invalid database URL {redact_url(url)!r}: {exc}") from exc
        dialects.install(self.engine)
        self.statement_timeout_ms: int | None = None  # see limit_statements
        dialects.install_statement_timeout(self.engine, lambda: self.statement_timeout_ms)
        self._schema_ready = False
        self._local = threading.local()
        self._ping_idle = not self.is_sqlite  # a server may drop an idle connection
        self._kept_lock = threading.Lock()
        self._all_kept: weakref.WeakSet[_Kept] = weakref.WeakSet()
        self._reserved = 0  # threads opening the connection they will keep
        # Whether ``SELECT … FOR UPDATE`` is needed to serialise writers on a row (read on
        # every fire: a plain attribute).
        self.row_locks: bool = dialects.lock_clause_supported(self.engine)

    def limit_statements(self, seconds: float | None) -> None:
        """Cancel any statement that runs longer than ``seconds`` (None: no limit).

        PostgreSQL's ``statement_timeout``, lock waits included, on every connection opened
        from now on (those open are closed); a cancelled statement is reported as Busy.
        SQLite is bounded by its busy timeout instead (``OPSFLOW_BUSY_TIMEOUT``).
        """
        limit = int(seconds * 1000) if seconds else None
        if self.is_sqlite or limit == self.statement_timeout_ms:
            return
        self.statement_timeout_ms = limit
        self.dispose()

    @property
    def is_sqlite(self) -> bool:
        return dialects.is_sqlite(self.engine)

    @property
    def in_memory(self) -> bool:
        return self.is_sqlite and self.engine.url.database in (None, "", ":memory:")

    def ensure_schema(self) -> None:
        """Check the schema version once: upgrade SQLite or an empty PostgreSQL, else refuse.

        See :mod:`opsflow.store.migrate` for the policy. The common case (already at the
        version this code needs) costs one small read.
        """
        if self._schema_ready:
            return
        with self._translate():
            conn = self._connect()
            try:
                with conn.begin():
                    version = migrate.stored_version(conn)
                    empty = version is None and not migrate.has_opsflow_tables(conn)
                    foreign = migrate.foreign_tables(conn) if empty else []
                if version != migrate.HEAD:
                    if version is None and not empty:
                        raise ConfigError(migrate.UNVERSIONED)
                    if empty and foreign:
                        raise ConfigError(migrate.foreign_problem(self.name, foreign))
                    if not (self.is_sqlite or empty):
                        raise ConfigError(migrate.problem(version) or "unknown schema version")
                    # SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock (in upgrade_on).
                    conn = conn.execution_options(opsflow_write=True)
                    with conn.begin():
                        migrate.upgrade_on(conn, fast_create=self.in_memory)
            finally:
                conn.close()
        self._schema_ready = True

    def upgrade(self, *, adopt: bool = False) -> migrate.UpgradeResult:
        """Apply the shipped migrations (``opsflow db upgrade``), in one transaction.

        ``adopt``: add opsflow's tables even to a database that holds another
        application's tables (refused otherwise: the URL is more likely a mistake).
        """
        with self._translate():
            conn = self._connect()
            try:
                conn = conn.execution_options(opsflow_write=True)
                with conn.begin():
                    result = migrate.upgrade_on(conn, adopt=adopt, name=self.name)
            finally:
                conn.close()
        self._schema_ready = True
        return result

    def schema_version(self) -> str | None:
        """The schema version recorded in the database (None: none yet)."""
        with self._translate():
            conn = self._connect()
            try:
                with conn.begin():
                    return migrate.stored_version(conn)
            finally:
                conn.close()

    @property
    def name(self) -> str:
        """The database as a person knows it: the SQLite file, else the redacted URL."""
        if self.is_sqlite and not self.in_memory:
            return str(self.engine.url.database)
        return redact_url(self.url)

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except DatabaseError as exc:
            if not isinstance(exc, OperationalError):
                if translatable(exc):
                    raise self._translated(exc) from exc
                raise
            if dialects.is_busy_error(exc):
                raise Busy(BUSY_MESSAGE) from exc
            if dialects.is_damaged_file(exc):
                raise self._translated(exc) from exc
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise ConfigError(f"cannot open database {redact_url(self.url)}: {reason}") from exc

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except DatabaseError as exc:
            if not translatable(exc):
                raise
            raise self._translated(exc) from exc

    def _translated(self, exc: DatabaseError) -> Exception:
        """The one translation of database errors into opsflow's (busy, read-only, full, …).

        A PostgreSQL serialization failure or deadlock becomes :class:`SerializationFailure`,
        which the engine's unit of work retries with backoff.
        """
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if dialects.is_damaged_file(exc):
            return ConfigError(
                f"{self.name} is not a readable opsflow database ({reason}): "
                "restore it from a backup, or point --db at the right file"
            )
        if dialects.is_undecodable_text(exc):
            return Damaged(
                f"a stored value of {self.name} is not readable text ({reason}): "
                "run 'opsflow audit verify' to find the damaged rows"
            )
        if isinstance(exc, DataError):  # a value the database column cannot hold
            return Invalid(f"a value does not fit in the database: {reason}")
        if dialects.is_serialization_error(exc):
            return SerializationFailure(reason)
        if dialects.is_busy_error(exc):
            return Busy(BUSY_MESSAGE)
        if "readonly" in reason or "read-only" in reason:
            return ConfigError(f"the database is read-only: {reason}")
        if "disk" in reason and "full" in reason:
            return ConfigError(f"the database is full: {reason}")
        return ConfigError(f"database error on {redact_url(self.url)}: {reason}")

    def write(self) -> _Transaction:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``); commits on success."""
        if not self._schema_ready:
            self.ensure_schema()
        return _Transaction(self, True)

    def read(self) -> _Transaction:
        """A read-only transaction with a consistent view."""
        if not self._schema_ready:
            self.ensure_schema()
        return _Transaction(self, False)

    # -- the connection kept per thread ----------------------------------------------------
    #
    # A pool checkout per transaction costs more than SQLite's BEGIN and COMMIT together
    # (checkout, reset on return, and on PostgreSQL a pre-ping round trip). So each thread
    # keeps one connection per Database, checked out once and used for its reads and writes.
    # It goes back to the pool when the thread ends or the Database is disposed, and is
    # dropped after a database error (the next transaction opens a new one). Only the first
    # ``pool_size`` threads keep one, so the pool's overflow still serves the others per
    # transaction. A forked child never touches its parent's connection.

    def _kept(self, write: bool) -> _Kept | None:
        """The thread's kept connection, in the mode asked (None: use a pool checkout)."""
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is None or kept.pid != _pid():
            if kept is not None:  # inherited through fork: the parent's socket or file
                _ORPHANS.append(kept)
                self._local.kept = None
            if not self._reserve():
                return None
            try:
                kept = _Kept(self._connect())
            except BaseException:
                with self._kept_lock:
                    self._reserved -= 1
                raise
            with self._kept_lock:
                self._reserved -= 1
                self._all_kept.add(kept)
            self._local.kept = kept
        elif kept.busy:
            return None  # a transaction inside another on this thread
        elif self._ping_idle and time.monotonic() - kept.last > IDLE_PING_S and not kept.alive():
            self._drop(kept)  # died while idle (server restart, idle timeout): a new one
            return self._kept(write)
        if kept.write != write:
            kept.conn.execution_options(opsflow_write=write)
            kept.write = write
        return kept

    def _reserve(self) -> bool:
        """Whether this thread may keep a connection; if so a place is held for it."""
        size = getattr(self.engine.pool, "size", None)
        limit = max(1, int(size())) if size is not None else None  # StaticPool: no limit
        pid = _pid()
        with self._kept_lock:
            kept = sum(1 for k in self._all_kept if k.pid == pid)  # not a forked parent's
            if limit is not None and kept + self._reserved >= limit:
                return False
            self._reserved += 1
            return True

    def _drop(self, kept: _Kept) -> None:
        """Forget a kept connection after an error: the next transaction opens a new one."""
        if getattr(self._local, "kept", None) is kept:
            self._local.kept = None
        with self._kept_lock:
            self._all_kept.discard(kept)
        kept.close()

    def dispose(self) -> None:
        with self._kept_lock:
            kept, self._all_kept = list(self._all_kept), weakref.WeakSet()
        for k in kept:
            k.close()
        self._local = threading.local()
        self.engine.dispose()


def _begin(conn: Connection, write: bool) -> PoolProxiedConnection:
    """Begin a transaction on ``conn``'s driver (see ``_Transaction``); the pool's
    connection it runs on."""
    pooled = conn.connection
    statement = dialects.begin_statement(conn, write)
    if statement is not None:
        try:
            pooled.dbapi_connection.execute(statement)  # type: ignore[union-attr]
        except conn.dialect.loaded_dbapi.Error as exc:
            raise_driver_error(conn, statement, (), exc)
    return pooled


def _end(conn: Connection, pooled: PoolProxiedConnection | None, commit: bool) -> None:
    """Commit or roll back the driver's transaction, errors raised as Core raises them."""
    if conn.invalidated or conn.connection is not pooled:
        # Lost mid-transaction (and maybe reconnected since, outside it): the transaction
        # is gone, and whatever ran after must not be committed. The caller drops ``conn``.
        raise PendingRollbackError("the connection was lost during the transaction")
    if conn.get_transaction() is not None:  # Core's, joined to the driver's: ends both
        if commit:
            conn.commit()
        else:
            conn.rollback()
        return
    dbapi = pooled.dbapi_connection
    try:
        if commit:
            dbapi.commit()  # type: ignore[union-attr]
        else:
            dbapi.rollback()  # type: ignore[union-attr]
    except conn.dialect.loaded_dbapi.Error as exc:
        raise_driver_error(conn, "COMMIT" if commit else "ROLLBACK", (), exc)


def translatable(exc: BaseException) -> bool:
    """Whether ``Database._translated`` has a message for ``exc`` (else it is raised as is)."""
    if isinstance(exc, OperationalError | DataError):
        return True
    return isinstance(exc, DatabaseError) and dialects.is_damaged_file(exc)


_pid = os.getpid


class _Kept:
    """A connection kept by one thread; closed (back to the pool) when the thread ends."""

    __slots__ = ("__weakref__", "busy", "conn", "last", "pid", "used", "write")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pid = _pid()
        self.write = False  # the opsflow_write execution option (BEGIN IMMEDIATE on SQLite)
        self.busy = False
        self.used = False  # it has served a transaction (so it may have died while idle)
        self.last = 0.0  # time.monotonic() at the end of its last transaction

    def alive(self) -> bool:
        """Whether the server still answers (the pool's pre-ping, for a connection kept idle)."""
        try:
            dbapi = self.conn.connection.dbapi_connection
            return dbapi is not None and bool(self.conn.dialect.do_ping(dbapi))
        except Exception:  # noqa: BLE001 - any failure means: open a new one
            return False

    def close(self) -> None:
        if self.pid == _pid():
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                self.conn.close()

    def __del__(self) -> None:  # the thread ended: its threading.local let go of us
        # At interpreter exit, module globals (contextlib, os) may already be gone.
        try:  # noqa: SIM105
            self.close()
        except BaseException:  # noqa: BLE001
            pass


_ORPHANS: list[_Kept] = []  # connections inherited through fork: never closed or collected


class _Transaction:
    """The context of one transaction on the thread's kept connection.

    A class rather than a generator: it runs on every fire, and each layer of
    ``contextmanager`` costs microseconds. Nested transactions (rare) use a pool checkout.

    The transaction is begun and ended on the driver (SQLite: ``BEGIN IMMEDIATE`` or
    ``DEFERRED``; psycopg begins by itself), not through Core's ``Connection.begin()``,
    whose transaction objects and events cost more than SQLite's BEGIN and COMMIT: the hot
    statements (``store.prepared``) run on the driver anyway. A Core statement inside
    autobegins Core's transaction, which joins the driver's (``dialects.install``); it is
    then committed or rolled back through Core, which ends the driver's with it. Driver
    errors are raised as Core raises them (``DBAPIError``, the connection invalidated
    when it is gone), so busy, stale-connection and error handling are unchanged.
    """

    __slots__ = ("db", "kept", "own", "pooled", "stale_ok", "write")

    def __init__(self, db: Database, write: bool) -> None:
        self.db = db
        self.write = write
        self.own = False  # a checkout of its own (nested, or past the kept connections)
        self.stale_ok = False  # a kept connection that had served before: may have died idle
        self.kept: _Kept | None = None
        self.pooled: PoolProxiedConnection | None = None  # the driver's connection begun on

    def __enter__(self) -> Connection:
        db = self.db
        try:
            kept = db._kept(self.write)
            if kept is None:
                kept = _Kept(db._connect())
                kept.conn.execution_options(opsflow_write=self.write)
                kept.write, kept.used = self.write, True
                self.own = True
            kept.busy = True
            self.kept = kept
            self.stale_ok = kept.used and not self.own
            try:
                self.pooled = _begin(kept.conn, self.write)
            except DBAPIError as exc:
                self._discard()
                if exc.connection_invalidated and self.stale_ok:
                    raise StaleConnection() from exc
                raise
        except DatabaseError as exc:
            if not translatable(exc):
                raise
            raise db._translated(exc) from exc
        return kept.conn

    def _discard(self) -> None:
        """Give up the connection after an error (a kept one is replaced on next use)."""
        kept = self.kept
        assert kept is not None
        kept.busy = False
        if self.own:
            kept.close()
        else:
            self.db._drop(kept)

    def _release(self) -> None:
        kept = self.kept
        assert kept is not None
        kept.busy = False
        kept.used = True
        kept.last = time.monotonic()
        if self.own:
            kept.close()

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        # Literal[False]: the transaction never swallows an exception (and type checkers
        # know that a ``return`` inside ``with db.write():`` is the function's only exit).
        kept = self.kept
        assert kept is not None
        conn = kept.conn
        if exc is None:
            try:
                _end(conn, self.pooled, commit=True)
            except BaseException as error:
                self._discard()
                if translatable(error):
                    raise self.db._translated(error) from error  # type: ignore[arg-type]
                raise
            self._release()
            return False
        try:
            _end(conn, self.pooled, commit=False)
        except BaseException:  # noqa: BLE001 - the original error is the one to report
            self._discard()
            return self._reraise(exc, kept)
        gone = isinstance(exc, DBAPIError) and exc.connection_invalidated
        if gone or kept.conn.invalidated:
            self._discard()  # a constraint or SQL error rolled back cleanly keeps it
        else:
            self._release()
        return self._reraise(exc, kept)

    def _reraise(self, exc: BaseException, kept: _Kept) -> Literal[False]:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated and self.stale_ok:
            # The kept connection died while idle (server restart, network): nothing of
            # this transaction was committed, so it can run again on a new connection.
            raise StaleConnection() from exc
        if translatable(exc):
            raise self.db._translated(exc) from exc  # type: ignore[arg-type]
        return False
