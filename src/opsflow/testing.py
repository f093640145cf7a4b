"""Helpers for testing opsflow plugins with pytest.

Use the ``opsflow_plugins`` fixture (add ``pytest_plugins = ["opsflow.testing"]`` to your
``conftest.py``) and register the plugin under test for the length of a ``with`` block::

    def test_my_calculator(opsflow_plugins):
        with register_plugin(opsflow_plugins, my_plugin):
            assert "my_metric" in opsflow_plugins.calculators
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opsflow.errors import ConfigError
from opsflow.plugins import Plugins, load_plugins


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


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixture
    pass
else:

    @pytest.fixture
    def opsflow_plugins() -> Plugins:
        """A fresh Plugins with opsflow's built-ins only, for one test."""
        return builtin_plugins()


__all__ = ["builtin_plugins", "register_plugin"]
