"""Helpers for testing opsflow plugins with pytest.

Installing opsflow makes these fixtures available to every pytest run (a ``pytest11``
entry point); without the installed entry point add ``pytest_plugins = ["opsflow.testing"]``
to your ``conftest.py``.

- ``opsflow_plugins``: a fresh :class:`~opsflow.plugins.Plugins` holding only opsflow's
  built-ins (installed plugins are not loaded, so tests do not depend on the environment).
- ``opsflow_register``: registers a plugin for the rest of one test and returns the
  ``Plugins``; the plugin is unregistered when the test ends::

      import my_plugin

      def test_my_calculator(opsflow_register, make_calculator_context):
          plugins = opsflow_register(my_plugin)
          ctx = make_calculator_context(data={"orders": 12})
          assert plugins.calculators["my_metric"].run({"x": "orders"}, ctx) == 12

- ``make_calculator_context``: builds the ``ctx`` a calculator receives.

:func:`register_plugin` does the same as ``opsflow_register`` for a ``with`` block, and
:func:`project_engine` builds an :class:`~opsflow.Engine` on a throw-away project so a
guard or a notifier can be tested against real cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsflow.errors import ConfigError
from opsflow.plugins import CalculatorContext, Plugins, load_plugins

if TYPE_CHECKING:
    from opsflow.facade import Engine

DEFAULT_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def builtin_plugins() -> Plugins:
    """A fresh :class:`Plugins` holding only opsflow's built-ins (no installed plugin)."""
    return load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}, strict=True)


@contextmanager
def register_plugin(
    plugins: Plugins, plugin: object, name: str | None = None, *, strict: bool = True
) -> Iterator[Plugins]:
    """Register ``plugin`` (a module or an object with hook implementations) for a block.

    With ``strict`` (the default), any problem with the plugin — a misspelt hook, a
    ``register_*`` hook that raises, a name already taken — raises ConfigError.
    """
    name = name or getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{id(plugin)}"
    ok = plugins.add(plugin, name, kind="local")
    try:
        if strict and not ok:
            problems = [str(e) for e in plugins.errors if e.name == name]
            problems = problems or [f"plugin {name} failed"]
            raise ConfigError(problems[0], problems)
        yield plugins
    finally:
        if plugins.pm.get_plugin(name) is plugin:
            plugins.remove(name)


def calculator_context(
    *,
    data: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime = DEFAULT_NOW,
    base_dir: Path | str = ".",
    case_id: str = "0" * 32,
) -> CalculatorContext:
    """The ``ctx`` a calculator receives, for a case with ``data`` and ``metrics``.

    ``metrics`` may map names to plain values or to stored records (``{"value": ...}``),
    as the engine stores them.
    """
    case = {"id": case_id, "data": dict(data or {}), "metrics": dict(metrics or {})}
    return CalculatorContext(
        case=case, sources=dict(sources or {}), now=now, base_dir=Path(base_dir)
    )


def project_engine(
    directory: Path | str,
    *,
    workflows: Mapping[str, str],
    plugins: Plugins,
    team: Mapping[str, list[str]] | None = None,
    channels: Mapping[str, Mapping[str, Any]] | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Engine:
    """An :class:`~opsflow.Engine` on a new project in ``directory`` (SQLite, no config file).

    ``workflows`` maps file names (``"review"``, written as ``workflows/review.yaml``) to
    workflow YAML text; ``plugins`` is usually the fixture's ``Plugins`` with the plugin
    under test registered.
    """
    from opsflow.config import load_settings
    from opsflow.facade import Engine

    root = Path(directory)
    folder = root / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in workflows.items():
        (folder / f"{name.removesuffix('.yaml')}.yaml").write_text(text, encoding="utf-8")
    settings = load_settings(
        db=f"sqlite:///{root / 'opsflow.db'}", workflows=str(folder), cwd=root, env={}
    )
    settings.base_dir = root
    settings.team = {k: list(v) for k, v in (team or {}).items()}
    settings.channels = {k: dict(v) for k, v in (channels or {}).items()}
    settings.sources = {k: dict(v) for k, v in (sources or {}).items()}
    return Engine(settings=settings, plugins=plugins, clock=clock)


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixtures
    pass
else:

    @pytest.fixture
    def opsflow_plugins() -> Plugins:
        """A fresh Plugins with opsflow's built-ins only, for one test."""
        return builtin_plugins()

    @pytest.fixture
    def opsflow_register(opsflow_plugins: Plugins) -> Iterator[Callable[..., Plugins]]:
        """``opsflow_register(plugin, name=None)``: register a plugin for this test (strict)."""
        with ExitStack() as stack:

            def register(plugin: object, name: str | None = None) -> Plugins:
                return stack.enter_context(register_plugin(opsflow_plugins, plugin, name))

            yield register

    @pytest.fixture
    def make_calculator_context(tmp_path: Path) -> Callable[..., CalculatorContext]:
        """Build a calculator's ``ctx`` (see :func:`calculator_context`) based in tmp_path."""

        def make(**kwargs: Any) -> CalculatorContext:
            kwargs.setdefault("base_dir", tmp_path)
            return calculator_context(**kwargs)

        return make


__all__ = [
    "DEFAULT_NOW",
    "builtin_plugins",
    "calculator_context",
    "project_engine",
    "register_plugin",
]
