"""Built-in notifiers ``console`` and ``file`` (SPEC §4), registered through the public hook.

Channel settings used here:

- ``file``: ``path`` (required) — the JSON-lines file to append to. A relative path is
  taken from ``_base_dir``, the project's base directory, which the engine adds to every
  channel's settings (``opsflow.config`` already makes configured paths absolute).
- ``console``: none; it writes to stderr so that stdout stays clean for ``--json``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsflow.clock import iso, system_now
from opsflow.hookspecs import hookimpl
from opsflow.plugins import Notification

BASE_DIR_SETTING = "_base_dir"


def console(notification: Notification) -> None:
    """Print a one-line summary of the notification to stderr."""
    subject = f"{notification.subject} — " if notification.subject else ""
    text = " ".join(f"{subject}{notification.message}".split())
    line = f"[{notification.channel}] to {notification.to}: {text} (case {notification.case})"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def file_path(notification: Notification) -> Path:
    """The file a ``file`` channel writes to."""
    raw = notification.settings.get("path")
    if not isinstance(raw, str | os.PathLike) or not str(raw):
        raise ValueError(f"channel '{notification.channel}': the file notifier needs a `path`")
    path = Path(raw).expanduser()
    base_dir = notification.settings.get(BASE_DIR_SETTING)
    if not path.is_absolute() and base_dir:
        path = Path(base_dir) / path
    return path


def file(notification: Notification) -> None:
    """Append the notification as one JSON object per line, flushed to disk."""
    path = file_path(notification)
    record = {**notification.to_json(), "at": iso(system_now())}
    line = json.dumps(record, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of one line in append mode: concurrent writers do not interleave lines.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


NOTIFIERS: dict[str, Callable[[Notification], None]] = {"console": console, "file": file}


@hookimpl
def register_notifiers(register: Callable[..., Any]) -> None:
    """Register opsflow's built-in notifiers."""
    for name, notifier in NOTIFIERS.items():
        register(name, notifier)
