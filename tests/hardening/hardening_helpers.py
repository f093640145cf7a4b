"""Helpers of the hardening tests: the temp project, the CLI as a real process."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import Result

from opsflow_process import opsflow_process  # noqa: F401 - shared

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOW = "2026-01-05T09:00:00+00:00"


@dataclass
class Project:
    """A temp project: opsflow.yaml, the expense workflow, a SQLite file."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "opsflow.db"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query on the project's SQLite file (what the CLI really wrote)."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchall()

    def counts(self) -> dict[str, int]:
        """Rows per table that a hostile command must not touch."""
        tables = ("cases", "history", "outbox", "deadlines", "idempotency_keys", "approvals")
        if not self.db.exists():
            return dict.fromkeys(tables, 0)
        return {name: self.rows(f"SELECT count(*) FROM {name}")[0][0] for name in tables}


Run = Callable[..., Result]


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)
