"""Shared fixtures: engines on a temporary SQLite file and, when configured, on PostgreSQL.

``OPSFLOW_TEST_POSTGRES_URL`` (set by ``.ci/run``) adds a PostgreSQL variant of every
storage test; each test gets its own schema. When the variable is set and the server does
not answer, those tests fail: they never skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local_services import postgres_schema
from project_cli import TEAM, engine_workflows  # the engine fixtures' team and workflows

FIXTURES = Path(__file__).parent / "fixtures"
POSTGRES_URL = os.environ.get("OPSFLOW_TEST_POSTGRES_URL")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="OPSFLOW_TEST_POSTGRES_URL is not set"),
    ),
]


@pytest.fixture(scope="session")
def _spec_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One spec cache for the session, never the developer's ~/.cache/opsflow."""
    path = tmp_path_factory.mktemp("spec-cache")
    path.chmod(0o700)
    return path


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, _spec_cache_dir: Path) -> None:
    """No test sees the developer's opsflow settings."""
    for name in list(os.environ):
        if name.startswith("OPSFLOW_") and name not in ("OPSFLOW_TEST_POSTGRES_URL",):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("OPSFLOW_CACHE_DIR", str(_spec_cache_dir))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opsflow.db'}"
    else:
        assert POSTGRES_URL
        with postgres_schema(POSTGRES_URL) as url:
            yield url


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    """A workflows folder holding the engine test workflow."""
    return engine_workflows(tmp_path, "review")


@pytest.fixture
def make_engine(
    db_url: str, workflows_dir: Path, clock: FakeClock, tmp_path: Path
) -> Iterator[Callable[..., object]]:
    """Build engines on the test database (several may share it, like several processes).

    ``make(workflows=FOLDER, clock=CLOCK, settings={"timezone": …}, **engine_arguments)``.
    """
    from opsflow.config import Settings
    from opsflow.facade import Engine

    made: list[Engine] = []

    def make(**overrides: object) -> Engine:
        fields: dict[str, Any] = {
            "db_url": db_url,
            "workflows_dir": Path(str(overrides.pop("workflows", workflows_dir))),
            "config_path": None,
            "base_dir": tmp_path,
            "actor": "tester",
            "team": {k: list(v) for k, v in TEAM.items()},
            "channels": {"chat": {"notifier": "file", "path": str(tmp_path / "chat.jsonl")}},
        }
        fields.update(overrides.pop("settings", None) or {})  # type: ignore[call-overload]
        settings = Settings(**fields)
        engine = Engine(settings=settings, clock=overrides.pop("clock", clock), **overrides)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., object]) -> object:
    return make_engine()
