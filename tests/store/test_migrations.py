"""Alembic migrations shipped in the package: schema equality, versions, first use, refusals."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from opsflow.errors import ConfigError
from opsflow.store import Database, migrate
from opsflow.store.tables import metadata


def _set_version(db: Database, version: str) -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '{version}'")


def _diff(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": migrate.VERSION_TABLE}
        )
        return list(compare_metadata(context, metadata))


def test_revisions_constant_matches_the_shipped_scripts() -> None:
    script = ScriptDirectory(migrate.script_location())
    assert script.get_heads() == [migrate.HEAD]
    assert tuple(s.revision for s in reversed(list(script.walk_revisions()))) == migrate.REVISIONS


def test_migrations_produce_exactly_the_schema_of_the_tables(db_url: str) -> None:
    db = Database(db_url)
    try:
        result = db.upgrade()
        assert (result.previous, result.current, result.changed) == (None, migrate.HEAD, True)
        assert _diff(db) == []
        assert db.upgrade().changed is False  # safe to repeat
        assert db.schema_version() == migrate.HEAD
    finally:
        db.dispose()


def test_fast_created_memory_database_equals_the_migrated_one(tmp_path: Path) -> None:
    memory, migrated = Database("sqlite://"), Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        memory.ensure_schema()
        migrated.upgrade()
        assert _diff(memory) == []
        shapes = []
        for db in (memory, migrated):
            with db.engine.connect() as conn:
                found = inspect(conn)
                shapes.append(
                    (
                        sorted(found.get_table_names()),
                        [c["name"] for c in found.get_columns(migrate.VERSION_TABLE)],
                        found.get_pk_constraint(migrate.VERSION_TABLE),
                    )
                )
        assert shapes[0] == shapes[1]
        assert memory.schema_version() == migrate.HEAD
    finally:
        memory.dispose()
        migrated.dispose()


def test_empty_database_is_set_up_on_first_use(db_url: str) -> None:
    """SQLite always; PostgreSQL only when empty (nothing there an admin could lose)."""
    db = Database(db_url)
    try:
        db.ensure_schema()
        assert db.schema_version() == migrate.HEAD
        assert _diff(db) == []
    finally:
        db.dispose()


def test_concurrent_first_users_set_up_the_schema_once(db_url: str) -> None:
    databases = [Database(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(databases))

    def first_use(db: Database) -> None:
        try:
            barrier.wait()
            db.ensure_schema()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert databases[0].schema_version() == migrate.HEAD
    finally:
        for db in databases:
            db.dispose()


def test_schema_behind_the_code_is_refused_on_postgres(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(db_url)
    db.upgrade()
    db.dispose()
    # pretend this opsflow ships one more revision
    shipped, following = migrate.HEAD, f"{int(migrate.HEAD) + 1:04d}"
    monkeypatch.setattr(migrate, "REVISIONS", (*migrate.REVISIONS, following))
    monkeypatch.setattr(migrate, "HEAD", following)
    assert migrate.problem(shipped) == (
        f"database schema is at {shipped}, this opsflow needs {following}: run 'opsflow db upgrade'"
    )
    if db_url.startswith("sqlite"):
        return  # SQLite would upgrade itself (to a revision this test cannot ship)
    later = Database(db_url)
    try:
        expected = rf"at {shipped}, this opsflow needs {following}: run"
        with pytest.raises(ConfigError, match=expected):
            later.ensure_schema()
    finally:
        later.dispose()


def test_schema_ahead_of_the_code_is_refused(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    _set_version(db, "0099")
    db.dispose()
    later = Database(db_url)
    try:
        with pytest.raises(ConfigError) as refused:
            later.ensure_schema()
        assert refused.value.message == (
            "database schema is at 0099, newer than this opsflow (which knows up to "
            f"{migrate.HEAD}); upgrade opsflow"
        )
        with pytest.raises(ConfigError, match="newer than this opsflow"):
            later.upgrade()
    finally:
        later.dispose()


def test_tables_without_a_version_are_refused(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            metadata.tables["cases"].create(conn)
        with pytest.raises(ConfigError, match="opsflow tables but no schema version"):
            db.ensure_schema()
    finally:
        db.dispose()
