"""Schema versions: the Alembic migrations shipped in ``opsflow/store/migrations``.

Policy (docs/operations.md):

- SQLite (the embedded default) upgrades itself on first use, whatever version it is at.
- PostgreSQL: an EMPTY database (no opsflow table, no version) is initialised on first use
  by running the migrations, as a fresh SQLite file is; nothing is changed that exists,
  so there is nothing an admin would want to schedule or back up first. A database that
  has a schema behind or ahead of this opsflow is refused by every command, naming both
  versions, until an admin runs ``opsflow db upgrade`` (or installs the newer opsflow).
- A database that has no opsflow schema but holds other tables (another application's
  file, a wrong ``--db``) is refused by every command, ``db upgrade`` included, unless
  the admin runs ``opsflow db upgrade --adopt``: opsflow never quietly adds its tables.
- Concurrent first users are serialised: SQLite by ``BEGIN IMMEDIATE``, PostgreSQL by a
  transaction-scoped advisory lock; the loser finds the schema in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert, inspect
from sqlalchemy.engine import Connection

from opsflow.errors import ConfigError
from opsflow.store import tables

# Every revision this opsflow ships, oldest first; the last is the one the code needs.
# (tests/store/test_migrations.py checks this against the Alembic scripts.)
REVISIONS: tuple[str, ...] = (
    *("0001", "0002", "0003", "0004", "0005", "0006"),
    *("0008", "0009", "0010"),
)
HEAD = REVISIONS[-1]
# Not Alembic's default name: a PostgreSQL schema may be shared with another Alembic app.
VERSION_TABLE = "opsflow_schema_version"
UNVERSIONED = (
    "the database has opsflow tables but no schema version (made by a development build "
    "before migrations): export what you need and start from an empty database"
)


@dataclass(frozen=True)
class UpgradeResult:
    """What ``opsflow db upgrade`` did."""

    previous: str | None
    current: str

    @property
    def changed(self) -> bool:
        return self.previous != self.current

    def to_json(self) -> dict[str, object]:
        return {"previous": self.previous, "current": self.current, "changed": self.changed}


def script_location() -> str:
    """The folder of the migration scripts inside the installed package."""
    return str(Path(__file__).resolve().parent / "migrations")


def stored_version(conn: Connection) -> str | None:
    """The schema version recorded in the database; None when it has none."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars().all()
    return str(rows[0]) if rows else None


def has_opsflow_tables(conn: Connection) -> bool:
    """Whether any opsflow table exists (a database made before migrations, or by hand)."""
    names = set(inspect(conn).get_table_names())
    return bool(names & set(tables.metadata.tables))


def foreign_tables(conn: Connection) -> list[str]:
    """The tables of a database that are not opsflow's (SQLite's own excepted)."""
    ours = set(tables.metadata.tables) | {VERSION_TABLE}
    return sorted(
        name
        for name in inspect(conn).get_table_names()
        if name not in ours and not name.startswith("sqlite_")
    )


def foreign_problem(name: str, tables: list[str]) -> str:
    """Why a database holding another application's tables is not set up for opsflow."""
    shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
    return (
        f"{name} is not an opsflow database: it has no opsflow schema but other tables "
        f"({shown}); check --db, or run 'opsflow db upgrade --adopt' to add opsflow's "
        "tables to it"
    )


def problem(version: str | None) -> str | None:
    """Why a database at ``version`` cannot be used by this opsflow (None: it can)."""
    if version == HEAD:
        return None
    if version is None:
        return (
            f"the database has no opsflow schema (this opsflow needs {HEAD}): "
            "run 'opsflow db upgrade'"
        )
    if version in REVISIONS:
        return (
            f"database schema is at {version}, this opsflow needs {HEAD}: run 'opsflow db upgrade'"
        )
    return (
        f"database schema is at {version}, newer than this opsflow (which knows up to {HEAD}); "
        "upgrade opsflow"
    )


def check(conn: Connection) -> None:
    """Raise ConfigError unless the database is at exactly the schema this code needs."""
    message = problem(stored_version(conn))
    if message is not None:
        raise ConfigError(message)


def upgrade_on(
    conn: Connection, *, fast_create: bool = False, adopt: bool = False, name: str = "database"
) -> UpgradeResult:
    """Bring the database on ``conn`` (inside the caller's transaction) to ``HEAD``.

    ``adopt`` allows a database that holds other applications' tables (refused otherwise).
    ``fast_create`` lets an empty SQLite database be created straight from the tables and
    stamped, which equals running every migration there (a test compares the two schemas)
    and keeps first use of a fresh file or ``sqlite://`` quick.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext('opsflow schema ' || current_schema()))"
        )
    previous = stored_version(conn)
    if previous == HEAD:
        return UpgradeResult(previous, HEAD)
    if previous is not None and previous not in REVISIONS:
        raise ConfigError(problem(previous) or "unknown schema version")
    if previous is None and has_opsflow_tables(conn):
        raise ConfigError(UNVERSIONED)
    if previous is None and not adopt:
        foreign = foreign_tables(conn)
        if foreign:
            raise ConfigError(foreign_problem(name, foreign))
    if previous is None and fast_create and conn.dialect.name == "sqlite":
        tables.metadata.create_all(conn)
        _stamp(conn, HEAD)
        return UpgradeResult(None, HEAD)
    _alembic_upgrade(conn)
    return UpgradeResult(previous, stored_version(conn) or HEAD)


def _stamp(conn: Connection, version: str) -> None:
    """Record ``version`` the way Alembic does (same table, same constraint)."""
    table = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )
    table.create(conn, checkfirst=True)
    conn.execute(table.delete())
    conn.execute(insert(table).values(version_num=version))


def _alembic_upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location())
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
