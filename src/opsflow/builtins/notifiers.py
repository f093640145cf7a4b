"""Built-in notifiers (SPEC §4), registered through the public hook: ``console`` and ``file``.

The helpers every notifier shares live in :mod:`opsflow.builtins.notifier_kit` (and are
re-exported here); the HTTP robots (``webhook``, ``slack``, ``feishu``, ``dingtalk``,
``wecom``) live in :mod:`opsflow.builtins.notifiers_http` and ``email`` in
:mod:`opsflow.builtins.notifiers_email`, imported only when the hook runs.

The contract a notifier follows (built-in or third party):

- return to say "delivered"; raise to ask the outbox for another attempt later;
- raise an exception whose ``permanent`` attribute is true (:class:`PermanentNotifierError`)
  when retrying cannot help — the receiving server definitively refused the notification
  (HTTP 4xx other than 408/429, SMTP 5xx) — and the outbox marks the row ``failed`` at once
  (``opsflow outbox retry ID`` queues it again after the cause is fixed);
- never put a secret into an exception message: webhook URLs carry their tokens in the
  path or the query, so messages show :func:`safe_url` only, and :func:`scrub` removes the
  channel's sensitive setting values from any text taken from a server's answer.

Channel settings used here:

- ``file``: ``path`` (required) — the JSON-lines file to append to. A relative path is
  taken from ``_base_dir``, the project's base directory, which the engine adds to every
  channel's settings (``opsflow.config`` already makes configured paths absolute).
- ``console``: none; it writes to stderr so that stdout stays clean for ``--json``.

Besides ``_base_dir`` the outbox adds ``_team`` (person -> roles, from ``opsflow.yaml``)
so a notifier can turn a role into people (the ``email`` notifier does).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsflow.builtins.notifier_kit import (
    BASE_DIR_SETTING,
    TEAM_SETTING,
    chat_text,
    safe_url,
    scrub,
    setting_bool,
    setting_str,
    snippet,
    timeout_setting,
)
from opsflow.clock import iso, system_now
from opsflow.errors import NotifierError, PermanentNotifierError
from opsflow.hookspecs import hookimpl
from opsflow.plugins import Notification

# The helpers a third-party notifier may reuse, kept importable from here.
__all__ = [
    "BASE_DIR_SETTING",
    "NOTIFIERS",
    "TEAM_SETTING",
    "NotifierError",
    "PermanentNotifierError",
    "builtin_notifiers",
    "chat_text",
    "console",
    "file",
    "file_path",
    "register_notifiers",
    "safe_url",
    "scrub",
    "setting_bool",
    "setting_str",
    "snippet",
    "timeout_setting",
]


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


def builtin_notifiers() -> dict[str, Callable[[Notification], None]]:
    """Every built-in notifier by name (the HTTP client is imported only when one sends)."""
    from opsflow.builtins import notifiers_email, notifiers_http

    return {**NOTIFIERS, **notifiers_http.NOTIFIERS, **notifiers_email.NOTIFIERS}


@hookimpl
def register_notifiers(register: Callable[..., Any]) -> None:
    """Register opsflow's built-in notifiers."""
    for name, notifier in builtin_notifiers().items():
        register(name, notifier)
