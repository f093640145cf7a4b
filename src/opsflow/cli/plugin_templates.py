"""The example plugin packages, as templates for ``opsflow init --plugin NAME``.

Their one source is the repository's top-level ``plugins/`` folder (each a package with its
own ``pyproject.toml``, installable with ``pip install ./plugins/NAME``). The wheel carries a
copy as ``opsflow/plugin_templates`` (``force-include`` in opsflow's ``pyproject.toml``); a
source checkout (an editable install) reads the folder itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.abc import Traversable
from importlib.resources import files
from pathlib import Path

SHIPPED = "plugin_templates"  # the folder inside the installed package
SKIP_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "build", "dist"}
)
SKIP_FILES = frozenset({".DS_Store"})
PREFIX = "opsflow-"


def templates_root() -> Traversable | None:
    """The folder holding the example packages: the installed copy, else the checkout's."""
    shipped = files("opsflow") / SHIPPED
    if shipped.is_dir():
        return shipped
    checkout = Path(__file__).resolve().parents[3]  # src/opsflow/cli/ -> the repository
    if (checkout / "pyproject.toml").is_file() and (checkout / "plugins").is_dir():
        return checkout / "plugins"
    return None


def available() -> list[str]:
    """The names of the example packages (``opsflow-sms-gateway``, …)."""
    root = templates_root()
    if root is None:
        return []
    return sorted(p.name for p in root.iterdir() if (p / "pyproject.toml").is_file())


def find(name: str) -> str | None:
    """The example package ``name`` stands for (the ``opsflow-`` prefix may be left out)."""
    names = available()
    for candidate in (name, PREFIX + name):
        if candidate in names:
            return candidate
    return None


def package_files(name: str) -> Iterator[tuple[str, Traversable]]:
    """Every file of the example package ``name``, as (relative path, resource)."""
    root = templates_root()
    if root is None:
        return
    yield from _walk(root / name, "")


def _walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.is_dir():
            if item.name not in SKIP_DIRS and not item.name.endswith(".egg-info"):
                yield from _walk(item, f"{prefix}{item.name}/")
        elif item.name not in SKIP_FILES and not item.name.endswith(".pyc"):
            yield f"{prefix}{item.name}", item
