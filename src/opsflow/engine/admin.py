"""Database administration for the doors: schema upgrade and status, registered texts.

The CLI reaches the store only through here (an import-linter contract keeps it so): it
holds no SQL and no SQLAlchemy, and shows database URLs only through
:func:`opsflow.redact.redact_url`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opsflow.engine.definitions import registered_hashes
from opsflow.store import Database
from opsflow.store.migrate import HEAD, UpgradeResult, problem

__all__ = [
    "HEAD",
    "SchemaStatus",
    "UpgradeResult",
    "database_exists",
    "database_status",
    "pool_size",
    "registered_text_hashes",
    "schema_status",
    "upgrade_schema",
]


@dataclass(frozen=True)
class SchemaStatus:
    """A database's schema version against the one this opsflow needs."""

    current: str | None
    head: str
    problem: str | None  # why the database cannot be used as it is; None when up to date

    @property
    def up_to_date(self) -> bool:
        return self.problem is None


def upgrade_schema(url: str, *, adopt: bool = False) -> UpgradeResult:
    """Apply the migrations this opsflow ships to the database at ``url`` (safe to repeat)."""
    database = Database(url)
    try:
        return database.upgrade(adopt=adopt)
    finally:
        database.dispose()


def schema_status(url: str) -> SchemaStatus:
    """The schema version of the database at ``url`` and what, if anything, is wrong."""
    database = Database(url)
    try:
        version = database.schema_version()
    finally:
        database.dispose()
    return SchemaStatus(current=version, head=HEAD, problem=problem(version))


def database_exists(url: str) -> bool:
    """Whether the database may hold registered versions (a SQLite file is never created)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return False
    if not parsed.drivername.startswith("sqlite"):
        return True
    database = parsed.database
    return bool(database) and database != ":memory:" and Path(str(database)).is_file()


def registered_text_hashes(
    database: Database, keys: list[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """The stored text hash of each registered (workflow, version) among ``keys``.

    Empty when the database has no opsflow schema at this opsflow's version (nothing
    registered to compare). Raises :class:`~opsflow.errors.OpsflowError` when the database
    cannot be reached.
    """
    if not keys or database.schema_version() != HEAD:
        return {}
    with database.read() as conn:
        return registered_hashes(conn, keys)


def database_status(database: Database) -> SchemaStatus:
    """The schema status of an open database (``/readyz``: its pool, no new connection pool)."""
    version = database.schema_version()
    return SchemaStatus(current=version, head=HEAD, problem=problem(version))


def pool_size(database: Database) -> int:
    """How many connections the database's pool keeps (1 when it has no fixed size)."""
    size = getattr(database.engine.pool, "size", None)
    return max(1, int(size())) if callable(size) else 1
