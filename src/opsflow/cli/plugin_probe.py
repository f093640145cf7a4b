"""Whether a plugin could add a command, found without loading one (for ``opsflow --help``).

Loading the plugins imports pluggy, ``importlib.metadata``, PyYAML for the configuration
and the built-in plugins: about 100 ms, more than the rest of ``opsflow --help``. Built-in
plugins add no command, so the help loads the plugins only when this module finds where a
command could come from: an installed distribution declaring an ``opsflow`` entry point,
or a ``*.py`` module in a plugins folder (``--plugins-dir``, ``OPSFLOW_PLUGINS_DIR``, the
project's ``plugins/``), or a configuration that has a ``plugins`` section. A false
positive only costs that load; then :mod:`opsflow.plugins` decides, as for any command.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

# The same names as opsflow.plugins and opsflow.config, which are too heavy to import here
# (a test keeps them equal).
ENTRY_POINT_GROUP = "opsflow"
DISABLE_AUTOLOAD_ENV = "OPSFLOW_DISABLE_PLUGIN_AUTOLOAD"
CONFIG_FILE = "opsflow.yaml"
ENV_CONFIG = "OPSFLOW_CONFIG"
ENV_PLUGINS_DIR = "OPSFLOW_PLUGINS_DIR"
_PLUGINS_SECTION = re.compile(r"^[\"']?plugins[\"']?\s*:", re.MULTILINE)


def commands_possible(
    *, config: str | None, plugins_dir: str | None, env: Mapping[str, str] | None = None
) -> bool:
    """Whether loading the plugins could add a command (False: it certainly adds none)."""
    env = os.environ if env is None else env
    return _local_plugins(config, plugins_dir, env) or _entry_points_declared(env)


def _local_plugins(config: str | None, plugins_dir: str | None, env: Mapping[str, str]) -> bool:
    """A plugins folder with a module in it, or a config that may name one."""
    config_path = Path(config or env.get(ENV_CONFIG) or CONFIG_FILE).expanduser()
    folders = [Path(given) for given in (plugins_dir, env.get(ENV_PLUGINS_DIR)) if given]
    if config_path.is_file():
        if _PLUGINS_SECTION.search(_read(config_path)):
            return True
        folders.append(config_path.parent / "plugins")
    else:
        folders.append(Path("plugins"))
    return any(folder.is_dir() and any(folder.glob("*.py")) for folder in folders)


def _entry_points_declared(env: Mapping[str, str]) -> bool:
    """Whether a distribution on ``sys.path`` declares an entry point in opsflow's group."""
    if env.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return False
    header = f"[{ENTRY_POINT_GROUP}]"
    for folder in sys.path:
        try:
            entries = list(os.scandir(folder or "."))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".dist-info", ".egg-info")):
                text = _read(Path(entry.path) / "entry_points.txt")
                if any(line.strip() == header for line in text.splitlines()):
                    return True
    return False


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
