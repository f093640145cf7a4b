"""Running opsflow as a real process, the way an operator's shell does (shared by test folders)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: no OPSFLOW_* of ours, plugins off, ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    env["OPSFLOW_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra or {})
    return env


def opsflow_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m opsflow ARGS`` as a real process (undecodable output replaced)."""
    return subprocess.run(
        [sys.executable, "-m", "opsflow", *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )
