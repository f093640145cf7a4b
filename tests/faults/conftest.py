"""Fault tests: a project on each backend, driven by real ``python -m opsflow`` processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults_helpers import CONFIG, WORKFLOW, FaultProject


@pytest.fixture
def fault_project(tmp_path: Path, db_url: str) -> FaultProject:
    """A project with the ``ticket`` workflow on a fresh database of the backend under test."""
    root = tmp_path / "proj"
    (root / "workflows").mkdir(parents=True)
    (root / "workflows" / "ticket.yaml").write_text(WORKFLOW, encoding="utf-8")
    (root / "opsflow.yaml").write_text(CONFIG, encoding="utf-8")
    if not db_url.startswith("sqlite"):
        from opsflow.store import Database

        database = Database(db_url)
        upgrade = getattr(database, "upgrade", None)  # PostgreSQL changes only on 'db upgrade'
        if upgrade is not None:
            upgrade()
        database.dispose()
    return FaultProject(root, db_url)
