"""The ``sms`` notifier: one JSON POST to an SMS (or ticketing) gateway per notification.

Channel settings (``opsflow.yaml``)::

    channels:
      oncall_sms:
        notifier: sms
        url: https://sms.example.com/v1/messages
        api_key: "${SMS_API_KEY}"          # a secret: sent as a bearer token, never shown
        sender: OPSFLOW
        recipients: {director: "+8613800000000"}   # optional: role or person -> number
        timeout: 10                        # optional, seconds

The request body is ``{"from", "to", "text", "reference", "case", "event"}`` with the
headers ``Authorization: Bearer API_KEY`` and ``Idempotency-Key: DEDUPE_KEY``, so a gateway
that honours the key sends a retried notification once. Any 2xx answer is a delivery;
anything else (an HTTP error, a refused connection, a timeout) raises
:class:`GatewayError`, which makes opsflow's outbox retry later.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from opsflow.plugins import Notification

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "opsflow-sms-gateway/0.1"
MAX_ERROR_BODY = 200


class GatewayError(RuntimeError):
    """The gateway did not accept a message; opsflow retries the notification."""


def sms(notification: Notification) -> str | None:
    """Send one notification through the gateway; return the gateway's message id, if any."""
    settings = notification.settings
    url = _setting(settings, "url", notification.channel)
    api_key = str(settings.get("api_key") or "")
    body = {
        "from": str(settings.get("sender") or ""),
        "to": recipient(notification.to, settings.get("recipients")),
        "text": text_of(notification.subject, notification.message),
        "reference": notification.dedupe_key,
        "case": notification.case,
        "event": notification.event,
    }
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": notification.dedupe_key,
        "User-Agent": USER_AGENT,
    }
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        url, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers, method="POST"
    )
    timeout = float(settings.get("timeout") or DEFAULT_TIMEOUT)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(MAX_ERROR_BODY).decode("utf-8", "replace").strip()
        raise GatewayError(
            scrub(f"gateway {safe_url(url)} answered HTTP {exc.code}: {detail}", api_key)
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GatewayError(
            scrub(f"gateway {safe_url(url)} unreachable: {reason}", api_key)
        ) from None
    return _message_id(answer)


def recipient(to: str, recipients: Any) -> str:
    """The number for ``to``: from the channel's ``recipients`` map, else ``to`` itself."""
    if isinstance(recipients, Mapping) and to in recipients:
        return str(recipients[to])
    return to


def text_of(subject: str | None, message: str) -> str:
    """The SMS text: ``subject: message`` on one line."""
    text = f"{subject}: {message}" if subject else message
    return " ".join(text.split())


def safe_url(url: str) -> str:
    """``url`` without credentials or query string, fit for an error message."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub(text: str, secret: str) -> str:
    """``text`` with the secret replaced by ``***`` (opsflow redacts ``${VAR}`` values too)."""
    return text.replace(secret, "***") if secret else text


def _setting(settings: Mapping[str, Any], name: str, channel: str) -> str:
    value = settings.get(name)
    if not value:
        raise GatewayError(f"channel '{channel}': the sms notifier needs `{name}`")
    return str(value)


def _message_id(answer: bytes) -> str | None:
    try:
        data = json.loads(answer or b"null")
    except ValueError:
        return None
    return str(data["id"]) if isinstance(data, dict) and "id" in data else None
