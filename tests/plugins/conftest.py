"""Fixtures for the plugin, calculator, notifier and templating tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsflow.plugins import CalculatorContext, Plugins
from opsflow.testing import builtin_plugins
from opsflow.testing import opsflow_plugins as opsflow_plugins  # the fixture, re-exported

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def plugins() -> Plugins:
    """A fresh Plugins holding only the built-ins."""
    return builtin_plugins()


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., CalculatorContext]:
    """Build a CalculatorContext over ``tmp_path`` with the given case and sources."""

    def make(
        sources: Mapping[str, Mapping[str, Any]] | None = None,
        data: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> CalculatorContext:
        case = {"id": "c1", "data": dict(data or {}), "metrics": dict(metrics or {})}
        return CalculatorContext(case=case, sources=sources or {}, now=NOW, base_dir=tmp_path)

    return make
