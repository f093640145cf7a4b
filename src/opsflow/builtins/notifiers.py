"""Built-in notifiers (SPEC §4), registered through the public hook; shared notifier helpers.

``console`` and ``file`` live here; the HTTP robots (``webhook``, ``slack``, ``feishu``,
``dingtalk``, ``wecom``) in :mod:`opsflow.builtins.notifiers_http` and ``email`` in
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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from opsflow.clock import iso, system_now
from opsflow.hookspecs import hookimpl
from opsflow.plugins import Notification

BASE_DIR_SETTING = "_base_dir"
TEAM_SETTING = "_team"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 120.0  # well below the outbox lease, so a slow attempt never loses its lease
SENSITIVE_SETTINGS = ("url", "webhook_url", "secret", "password", "token", "username")
MIN_SCRUBBED = 4
MIN_TOKEN = 8  # shorter URL parts are words, not tokens
SNIPPET = 200


class NotifierError(Exception):
    """A delivery attempt failed; the outbox tries again later."""

    permanent = False


class PermanentNotifierError(NotifierError):
    """The receiver refused the notification for good: the outbox marks it failed at once."""

    permanent = True


def setting_str(notification: Notification, *names: str, default: str | None = None) -> str:
    """The first of ``names`` set to a non-empty string in the channel's settings."""
    for name in names:
        value = notification.settings.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if default is not None:
        return default
    raise NotifierError(
        f"channel '{notification.channel}': the {notification_kind(notification)} notifier"
        f" needs `{names[0]}`"
    )


def setting_bool(notification: Notification, name: str, default: bool = False) -> bool:
    """A true/false channel setting (``true``/``false`` text accepted)."""
    value = notification.settings.get(name, default)
    if isinstance(value, str):
        value = value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def timeout_setting(notification: Notification) -> float:
    """The channel's ``timeout`` in seconds (default 10, at most 120)."""
    raw = notification.settings.get("timeout", DEFAULT_TIMEOUT)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT:
        raise NotifierError(
            f"channel '{notification.channel}': `timeout` must be a number of seconds"
            f" above 0 and at most {MAX_TIMEOUT:g}"
        )
    return value


def notification_kind(notification: Notification) -> str:
    """The notifier name a channel uses (for messages)."""
    return str(notification.settings.get("notifier") or "channel's")


def safe_url(url: str) -> str:
    """``scheme://host:port/…``: a URL fit for a message (path, query and user dropped)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "the configured URL"
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def sensitive_values(settings: Mapping[str, Any]) -> list[str]:
    """Setting values that must never be shown: tokens, passwords, URLs and their parts."""
    found: list[str] = []
    for name in SENSITIVE_SETTINGS:
        value = settings.get(name)
        if isinstance(value, str) and value:
            found.append(value)
            found.extend(_url_parts(value))
    headers = settings.get("headers")
    if isinstance(headers, Mapping):
        found.extend(str(v) for v in headers.values() if v)
    return [v for v in found if len(v) >= MIN_SCRUBBED]


def _url_parts(value: str) -> Iterator[str]:
    """The parts of a URL where webhook tokens live: password, token-like path segments, query."""
    if "://" not in value:
        return
    try:
        parts = urlsplit(value)
    except ValueError:
        return
    if parts.password:
        yield parts.password
    yield from (segment for segment in parts.path.split("/") if _tokenish(segment))
    yield from (v for _k, v in parse_qsl(parts.query) if len(v) >= MIN_TOKEN)
    if parts.query:
        yield parts.query


def _tokenish(segment: str) -> bool:
    """Whether a path segment looks like a token (not a word such as ``hook`` or ``send``)."""
    has_digit = any(ch.isdigit() for ch in segment)
    return len(segment) >= 2 * MIN_TOKEN - 4 or (has_digit and len(segment) >= MIN_TOKEN)


def scrub(text: str, settings: Mapping[str, Any]) -> str:
    """``text`` with every sensitive value of the channel's settings replaced by ``***``."""
    for value in sorted(set(sensitive_values(settings)), key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def snippet(text: str, settings: Mapping[str, Any]) -> str:
    """The start of a server's answer, on one line, scrubbed."""
    line = " ".join(text.split())
    if len(line) > SNIPPET:
        line = line[:SNIPPET] + "…"
    return scrub(line, settings)


def chat_text(notification: Notification) -> str:
    """The text a chat robot posts: the subject (when set) on the first line, then the message."""
    if notification.subject:
        return f"{notification.subject}\n{notification.message}"
    return notification.message


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
