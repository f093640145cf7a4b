"""What the built-in notifiers share: channel settings, secret-free URLs and scrubbed text.

The console and file notifiers (:mod:`opsflow.builtins.notifiers`), the HTTP robots
(:mod:`opsflow.builtins.notifiers_http`) and ``email`` (:mod:`opsflow.builtins.notifiers_email`)
all read their settings and hide secrets through these helpers; the outbox uses
:func:`scrub` on the errors a notifier raises.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from opsflow.errors import NotifierError

if TYPE_CHECKING:
    from opsflow.plugins import Notification

BASE_DIR_SETTING = "_base_dir"
TEAM_SETTING = "_team"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 120.0  # well below the outbox lease, so a slow attempt never loses its lease
SENSITIVE_SETTINGS = ("url", "webhook_url", "secret", "password", "token", "username")
MIN_SCRUBBED = 4
MIN_TOKEN = 8  # shorter URL parts are words, not tokens
SNIPPET = 200


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
