"""HTTP notifiers: ``webhook`` and the chat robots ``slack``, ``feishu``, ``dingtalk``, ``wecom``.

Each sends one POST of a JSON body (UTF-8) and checks the answer. A network error, a
timeout, an HTTP answer other than 2xx, or a robot's error code in a 200 answer raises
:class:`~opsflow.builtins.notifiers.NotifierError`, so the outbox tries again later;
HTTP 4xx other than 408 (timeout) and 429 (rate limit) raises
:class:`~opsflow.builtins.notifiers.PermanentNotifierError` (the URL, the token or the
body is wrong: retrying will not help). A robot's own error code (``code`` / ``errcode``)
is retried: those codes mix rate limits and clock skew with configuration mistakes.

Within one attempt, a connection that cannot be made (refused, reset before the request
was sent) is tried up to :data:`CONNECT_TRIES` times with stamina's jittered exponential
backoff; a timeout is not retried in the attempt, so an attempt against a server that does
not answer ends after the channel's ``timeout``.

The chat robots post into the one group their webhook belongs to: ``to`` is not part of
the text (the subject, when set, is its first line).

Settings (all channels): ``timeout`` (seconds, default 10, at most 120). Messages never show the URL
beyond ``scheme://host:port/…``: robots carry their token in the path or the query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from opsflow.builtins.notifier_kit import (
    chat_text,
    safe_url,
    setting_str,
    snippet,
    timeout_setting,
)
from opsflow.errors import NotifierError, NotifierUnreachable, PermanentNotifierError
from opsflow.plugins import Notification

if TYPE_CHECKING:
    import httpx2

CONNECT_TRIES = 3
RETRIED_4XX = frozenset({408, 429})
WECOM_MAX_BYTES = 2048  # WeCom refuses longer text content (errcode 40058)


def user_agent() -> str:
    """``opsflow/VERSION``."""
    try:
        return f"opsflow/{version('opsflow')}"
    except PackageNotFoundError:
        return "opsflow"


def encode_json(body: Mapping[str, Any]) -> bytes:
    """The UTF-8 JSON bytes sent (Chinese kept as is, not ``\\u`` escapes)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def post(
    notification: Notification,
    url: str,
    content: bytes,
    headers: Mapping[str, str] | None = None,
) -> httpx2.Response:
    """POST ``content`` as JSON to ``url``; raise for a network error or a non-2xx answer."""
    import httpx2
    import stamina

    timeout = timeout_setting(notification)
    shown = safe_url(url)
    all_headers = {
        **(headers or {}),
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": user_agent(),
    }
    try:
        for attempt in stamina.retry_context(
            on=NotifierUnreachable,
            attempts=CONNECT_TRIES,
            timeout=timeout,
            wait_initial=0.2,
            wait_max=1.0,
            wait_jitter=0.2,
        ):
            with attempt:
                try:
                    with httpx2.Client(timeout=timeout, follow_redirects=False) as client:
                        response = client.post(url, content=content, headers=all_headers)
                except httpx2.ConnectError as exc:
                    # the exception's text may hold the URL: only its OS reason is kept
                    raise NotifierUnreachable(f"{shown}: cannot connect ({_reason(exc)})") from None
    except httpx2.TimeoutException:
        raise NotifierError(f"{shown}: no answer within {timeout:g}s") from None
    except httpx2.HTTPError as exc:
        raise NotifierError(f"{shown}: {type(exc).__name__} ({_reason(exc)})") from None
    except httpx2.InvalidURL:
        raise NotifierError(
            f"channel '{notification.channel}': the configured URL is not valid"
        ) from None
    check_status(notification, response, shown)
    return response


def _reason(exc: Exception) -> str:
    """The reason of a transport error (``[Errno 111] Connection refused``), never a URL."""
    text = " ".join(str(exc).split())
    return type(exc).__name__ if not text or "://" in text or "/" in text else text


def check_status(notification: Notification, response: httpx2.Response, shown: str) -> None:
    """Raise unless the answer is 2xx (4xx other than 408/429: permanently)."""
    code = response.status_code
    if 200 <= code < 300:
        return
    detail = snippet(response.text, notification.settings)
    message = f"{shown} answered HTTP {code}" + (f": {detail}" if detail else "")
    if 400 <= code < 500 and code not in RETRIED_4XX:
        raise PermanentNotifierError(message)
    raise NotifierError(message)


def answer_json(notification: Notification, response: httpx2.Response, shown: str) -> Any:
    """The JSON document a robot answered (raise if it answered something else)."""
    try:
        return response.json()
    except ValueError:
        detail = snippet(response.text, notification.settings)
        raise NotifierError(f"{shown} answered something that is not JSON: {detail}") from None


def extra_headers(notification: Notification) -> dict[str, str]:
    """The channel's ``headers`` setting: a mapping of header names to text values."""
    raw = notification.settings.get("headers") or {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in raw.items()
    ):
        raise NotifierError(
            f"channel '{notification.channel}': `headers` must map header names to text"
        )
    return {k: str(v) for k, v in raw.items()}


def webhook(notification: Notification) -> None:
    """POST the notification as JSON with ``Idempotency-Key: <dedupe_key>``.

    Settings: ``url`` (required), ``headers`` (extra headers), ``timeout``, ``secret``
    (adds ``X-Opsflow-Signature: sha256=HEX``, the HMAC-SHA256 of the body under the
    secret). The body is ``Notification.to_json()``: channel, to, subject, message, case,
    event, dedupe_key — the same bytes on every attempt, so the receiver can deduplicate.
    """
    url = setting_str(notification, "url", "webhook_url")
    content = encode_json(notification.to_json())
    headers = extra_headers(notification)
    headers["Idempotency-Key"] = notification.dedupe_key
    secret = notification.settings.get("secret")
    if isinstance(secret, str) and secret:
        digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).hexdigest()
        headers["X-Opsflow-Signature"] = f"sha256={digest}"
    post(notification, url, content, headers)


def slack_escape(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` as Slack's message formatting asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(notification: Notification) -> None:
    """Slack incoming webhook: ``{"text": TEXT}``; Slack answers 200 ``ok``.

    Slack's incoming-webhook docs: a JSON body with ``text`` (``&``, ``<``, ``>`` escaped);
    errors come back as 4xx with a short text (``invalid_payload``, ``no_service``, …).
    """
    url = setting_str(notification, "webhook_url", "url")
    post(notification, url, encode_json({"text": slack_escape(chat_text(notification))}))


def feishu_sign(timestamp: str, secret: str) -> str:
    """Feishu/Lark custom-bot signature: base64(HMAC-SHA256(key="TS\\nSECRET", msg=""))."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def feishu(notification: Notification) -> None:
    """Feishu / Lark custom bot: ``{"msg_type": "text", "content": {"text": TEXT}}``.

    With ``secret`` (signature verification), ``timestamp`` (Unix seconds, real time: the
    bot refuses one more than an hour off) and ``sign`` are added to the body. The bot
    answers 200 with ``{"code": 0, ...}`` (older: ``{"StatusCode": 0, ...}``); any other
    code is an error (19021: signature mismatch, 11232: rate limited).
    """
    url = setting_str(notification, "webhook_url", "url")
    body: dict[str, Any] = {}
    secret = notification.settings.get("secret")
    if isinstance(secret, str) and secret:
        timestamp = str(int(time.time()))
        body = {"timestamp": timestamp, "sign": feishu_sign(timestamp, secret)}
    body.update(msg_type="text", content={"text": chat_text(notification)})
    shown = safe_url(url)
    answer = answer_json(notification, post(notification, url, encode_json(body)), shown)
    if not isinstance(answer, dict):
        raise NotifierError(f"{shown} answered an unexpected JSON document")
    code = answer.get("code", answer.get("StatusCode", 0))
    if code not in (0, None):
        reason = answer.get("msg") or answer.get("StatusMessage") or ""
        reason = snippet(str(reason), notification.settings)
        raise NotifierError(f"feishu answered code {code}: {reason}")


def dingtalk_sign(timestamp: str, secret: str) -> str:
    """DingTalk robot signature: base64(HMAC-SHA256(key=SECRET, msg="TS\\nSECRET"))."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk(notification: Notification) -> None:
    """DingTalk custom robot: ``{"msgtype": "text", "text": {"content": TEXT}}``.

    With ``secret`` (加签, the ``SEC…`` string), ``&timestamp=MS&sign=URLENCODED`` is added
    to the webhook URL (milliseconds, real time, within an hour). The robot answers 200 with
    ``{"errcode": 0, "errmsg": "ok"}``; any other errcode is an error (310000: bad
    signature or keyword, 130101: sending too fast).
    """
    url = setting_str(notification, "webhook_url", "url")
    secret = notification.settings.get("secret")
    if isinstance(secret, str) and secret:
        timestamp = str(int(time.time() * 1000))
        sign = quote_plus(dingtalk_sign(timestamp, secret))
        url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
    body = {"msgtype": "text", "text": {"content": chat_text(notification)}}
    _check_errcode(notification, "dingtalk", url, post(notification, url, encode_json(body)))


def _check_errcode(
    notification: Notification, tool: str, url: str, response: httpx2.Response
) -> None:
    shown = safe_url(url)
    answer = answer_json(notification, response, shown)
    if not isinstance(answer, dict):
        raise NotifierError(f"{shown} answered an unexpected JSON document")
    code = answer.get("errcode", 0)
    if code not in (0, None):
        reason = snippet(str(answer.get("errmsg") or ""), notification.settings)
        raise NotifierError(f"{tool} answered errcode {code}: {reason}")


def truncate_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (ending with … when cut)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[: limit - len("…".encode())].decode("utf-8", errors="ignore")
    return cut + "…"


def wecom(notification: Notification) -> None:
    """WeCom (企业微信) group robot: ``{"msgtype": "text", "text": {"content": TEXT}}``.

    The text is cut to 2048 UTF-8 bytes, the robot's limit. The robot answers 200 with
    ``{"errcode": 0, "errmsg": "ok"}``; any other errcode is an error (45009: rate limit,
    93000: invalid webhook key).
    """
    url = setting_str(notification, "webhook_url", "url")
    text = truncate_utf8(chat_text(notification), WECOM_MAX_BYTES)
    body = {"msgtype": "text", "text": {"content": text}}
    _check_errcode(notification, "wecom", url, post(notification, url, encode_json(body)))


NOTIFIERS: dict[str, Callable[[Notification], None]] = {
    "webhook": webhook,
    "slack": slack,
    "feishu": feishu,
    "dingtalk": dingtalk,
    "wecom": wecom,
}
