"""The database handle: connections, write transactions, and error translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from opsflow.errors import Busy, ConfigError
from opsflow.store import dialects, migrate

BUSY_MESSAGE = "the database is busy (locked by another process past the busy timeout); try again"


def redact_url(url: str) -> str:
    """The URL with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class Database:
    """One database (SQLite file, SQLite in memory, or PostgreSQL) and how opsflow talks to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(url, **dialects.engine_options(url))
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ConfigError(f"invalid database URL {redact_url(url)!r}: {exc}") from exc
        dialects.install(self.engine)
        self._schema_ready = False

    @property
    def is_sqlite(self) -> bool:
        return dialects.is_sqlite(self.engine)

    @property
    def row_locks(self) -> bool:
        """Whether ``SELECT … FOR UPDATE`` is needed to serialise writers on a row."""
        return dialects.lock_clause_supported(self.engine)

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
                if version != migrate.HEAD:
                    if version is None and not empty:
                        raise ConfigError(migrate.UNVERSIONED)
                    if not (self.is_sqlite or empty):
                        raise ConfigError(migrate.problem(version) or "unknown schema version")
                    # SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock (in upgrade_on).
                    conn = conn.execution_options(opsflow_write=True)
                    with conn.begin():
                        migrate.upgrade_on(conn, fast_create=self.in_memory)
            finally:
                conn.close()
        self._schema_ready = True

    def upgrade(self) -> migrate.UpgradeResult:
        """Apply the shipped migrations (``opsflow db upgrade``), in one transaction."""
        with self._translate():
            conn = self._connect()
            try:
                conn = conn.execution_options(opsflow_write=True)
                with conn.begin():
                    result = migrate.upgrade_on(conn)
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

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except OperationalError as exc:
            if dialects.is_busy_error(exc):
                raise Busy(BUSY_MESSAGE) from exc
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise ConfigError(f"cannot open database {redact_url(self.url)}: {reason}") from exc

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            if dialects.is_busy_error(exc):
                raise Busy(BUSY_MESSAGE) from exc
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "readonly" in reason or "read-only" in reason:
                raise ConfigError(f"the database is read-only: {reason}") from exc
            if "disk" in reason and "full" in reason:
                raise ConfigError(f"the database is full: {reason}") from exc
            raise ConfigError(f"database error on {redact_url(self.url)}: {reason}") from exc
        except DBAPIError as exc:
            if dialects.is_serialization_error(exc):
                raise
            raise

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``); commits on success."""
        self.ensure_schema()
        with self._translate():
            conn = self._connect()
            try:
                conn = conn.execution_options(opsflow_write=True)
                with conn.begin():
                    yield conn
            finally:
                conn.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with a consistent view."""
        self.ensure_schema()
        with self._translate():
            conn = self._connect()
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.close()

    def dispose(self) -> None:
        self.engine.dispose()
