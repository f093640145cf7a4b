"""The HTTP notifiers (webhook, slack, feishu, dingtalk, wecom) against a real local server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from http_servers import QuietHTTPServer
from opsflow.builtins.notifiers import NotifierError, PermanentNotifierError
from opsflow.plugins import Notification, Plugins

OK_BODY = b'{"code":0,"msg":"success","errcode":0,"errmsg":"ok"}'
TOKEN = "tok3n5ecretV4lue"
SECRET = "SEC0123456789abcdef"


@dataclass
class Reply:
    """What the server answers to one request."""

    status: int = 200
    body: bytes = OK_BODY
    hang: float = 0.0


@dataclass
class Recorded:
    """One request the server received."""

    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class RecordingServer:
    """An HTTP server on 127.0.0.1 that records requests and plays scripted replies."""

    requests: list[Recorded] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reply(self, status: int, body: bytes | str = b"", hang: float = 0.0) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.replies.append(Reply(status, data, hang))


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = urlsplit(self.path)
            server.requests.append(
                Recorded(
                    path=parts.path,
                    query=parse_qs(parts.query),
                    raw_query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
            )
            reply = server.replies.pop(0) if server.replies else Reply()
            if reply.hang:
                server.release.wait(reply.hang)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 never go through a proxy of the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer()
    httpd = QuietHTTPServer(("127.0.0.1", 0), _handler(recording))
    httpd.daemon_threads = True
    recording.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield recording
    recording.release.set()
    httpd.shutdown()
    httpd.server_close()


def note(settings: dict[str, Any], **changes: Any) -> Notification:
    fields: dict[str, Any] = {
        "channel": "team_chat",
        "to": "brand",
        "subject": "审批提醒",
        "message": "「春季促销」 needs brand review",
        "case": "c0ffee1234567890c0ffee1234567890",
        "event": "approve",
        "dedupe_key": "5f1d9c0a6b7e4d2f8a3c1e5b7d9f0a2c",
        "settings": settings,
    }
    fields.update(changes)
    return Notification(**fields)


# -- webhook -----------------------------------------------------------------------------


def test_webhook_posts_the_notification_json_with_an_idempotency_key(
    plugins: Plugins, server: RecordingServer
) -> None:
    notification = note(
        {"notifier": "webhook", "url": server.url("/in"), "headers": {"X-Team": "ops"}}
    )
    plugins.notifiers["webhook"](notification)
    [request] = server.requests
    assert request.path == "/in"
    assert request.json() == {
        "channel": "team_chat",
        "to": "brand",
        "subject": "审批提醒",
        "message": "「春季促销」 needs brand review",
        "case": "c0ffee1234567890c0ffee1234567890",
        "event": "approve",
        "dedupe_key": "5f1d9c0a6b7e4d2f8a3c1e5b7d9f0a2c",
    }
    assert "「春季促销」".encode() in request.body  # UTF-8, not \u escapes
    assert request.headers["idempotency-key"] == notification.dedupe_key
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["x-team"] == "ops"
    assert request.headers["user-agent"].startswith("opsflow")
    assert "x-opsflow-signature" not in request.headers


def test_webhook_signs_the_body_with_its_secret(plugins: Plugins, server: RecordingServer) -> None:
    plugins.notifiers["webhook"](note({"url": server.url(), "secret": SECRET}))
    [request] = server.requests
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-opsflow-signature"] == f"sha256={expected}"


def test_webhook_retries_send_the_same_key_and_body(
    plugins: Plugins, server: RecordingServer
) -> None:
    server.reply(503, "busy")
    notification = note({"url": server.url()})
    with pytest.raises(NotifierError, match="answered HTTP 503: busy") as failed:
        plugins.notifiers["webhook"](notification)
    assert not failed.value.permanent
    plugins.notifiers["webhook"](notification)
    first, second = server.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.headers["idempotency-key"] == notification.dedupe_key
    assert first.body == second.body


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (404, True),
        (410, True),
        (408, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (301, False),
    ],
)
def test_webhook_error_answers(
    plugins: Plugins, server: RecordingServer, status: int, permanent: bool
) -> None:
    server.reply(status, '{"error": "nope"}')
    with pytest.raises(NotifierError, match=f"answered HTTP {status}") as failed:
        plugins.notifiers["webhook"](note({"url": server.url()}))
    assert failed.value.permanent is permanent
    assert isinstance(failed.value, PermanentNotifierError) is permanent


def test_a_server_that_hangs_fails_the_attempt_within_the_timeout(
    plugins: Plugins, server: RecordingServer
) -> None:
    server.reply(200, hang=10)
    started = time.monotonic()
    with pytest.raises(NotifierError, match=r"no answer within 0.5s"):
        plugins.notifiers["webhook"](note({"url": server.url(), "timeout": 0.5}))
    assert time.monotonic() - started < 3


def test_a_refused_connection_is_an_error_without_the_url(plugins: Plugins) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook/{TOKEN}?key={TOKEN}"
    with pytest.raises(NotifierError, match="cannot connect") as failed:
        plugins.notifiers["webhook"](note({"url": url, "timeout": 1}))
    assert TOKEN not in str(failed.value)
    assert f"http://127.0.0.1:{port}/…" in str(failed.value)


def test_error_messages_never_show_the_webhook_token(
    plugins: Plugins, server: RecordingServer
) -> None:
    server.reply(500, f'{{"error": "bad key {TOKEN}", "url": "/hook/{TOKEN}"}}')
    url = server.url(f"/hook/{TOKEN}") + f"?access_token={TOKEN}"
    with pytest.raises(NotifierError) as failed:
        plugins.notifiers["webhook"](note({"url": url}))
    message = str(failed.value)
    assert TOKEN not in message
    assert "bad key ***" in message
    assert message.startswith(f"http://127.0.0.1:{server.port}/… answered HTTP 500")


@pytest.mark.parametrize("settings", [{"url": ""}, {"timeout": 0}, {"timeout": "soon"}])
def test_bad_webhook_settings_are_errors(plugins: Plugins, settings: dict[str, Any]) -> None:
    settings = {"notifier": "webhook", "url": "http://127.0.0.1:9/x", **settings}
    if not settings["url"]:
        settings.pop("url")
    with pytest.raises(NotifierError, match="channel 'team_chat'"):
        plugins.notifiers["webhook"](note(settings))


def test_bad_headers_are_an_error(plugins: Plugins) -> None:
    with pytest.raises(NotifierError, match="`headers` must map header names to text"):
        plugins.notifiers["webhook"](note({"url": "http://127.0.0.1:9/", "headers": ["x"]}))


# -- slack -------------------------------------------------------------------------------


def test_slack_posts_text_with_the_subject_first(plugins: Plugins, server: RecordingServer) -> None:
    server.reply(200, "ok")
    plugins.notifiers["slack"](
        note({"webhook_url": server.url("/services/T0/B0/x")}, message="1 < 2 & 3 > 2 审核")
    )
    [request] = server.requests
    assert request.path == "/services/T0/B0/x"
    assert request.json() == {"text": "审批提醒\n1 &lt; 2 &amp; 3 &gt; 2 审核"}
    assert request.body == '{"text":"审批提醒\\n1 &lt; 2 &amp; 3 &gt; 2 审核"}'.encode()


def test_slack_without_a_subject_posts_the_message(
    plugins: Plugins, server: RecordingServer
) -> None:
    server.reply(200, "ok")
    plugins.notifiers["slack"](note({"webhook_url": server.url()}, subject=None))
    assert server.requests[0].json() == {"text": "「春季促销」 needs brand review"}


def test_slack_errors(plugins: Plugins, server: RecordingServer) -> None:
    server.reply(404, "no_service")
    with pytest.raises(PermanentNotifierError, match="HTTP 404: no_service"):
        plugins.notifiers["slack"](note({"webhook_url": server.url()}))


# -- feishu ------------------------------------------------------------------------------


def test_feishu_text_message(plugins: Plugins, server: RecordingServer) -> None:
    plugins.notifiers["feishu"](note({"webhook_url": server.url("/open-apis/bot/v2/hook/abc")}))
    [request] = server.requests
    assert request.json() == {
        "msg_type": "text",
        "content": {"text": "审批提醒\n「春季促销」 needs brand review"},
    }


def test_feishu_signs_with_its_secret(plugins: Plugins, server: RecordingServer) -> None:
    before = int(time.time())
    plugins.notifiers["feishu"](note({"webhook_url": server.url(), "secret": SECRET}))
    body = server.requests[0].json()
    assert list(body) == ["timestamp", "sign", "msg_type", "content"]
    timestamp = body["timestamp"]
    assert isinstance(timestamp, str)
    assert before <= int(timestamp) <= int(time.time())
    key = f"{timestamp}\n{SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected


def test_feishu_old_style_success_answer(plugins: Plugins, server: RecordingServer) -> None:
    server.reply(200, '{"StatusCode":0,"StatusMessage":"success"}')
    plugins.notifiers["feishu"](note({"webhook_url": server.url()}))


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        ('{"code":19021,"msg":"sign match fail"}', "feishu answered code 19021: sign match fail"),
        ('{"code":11232,"msg":"frequency limited"}', "code 11232"),
        ("<html>gateway</html>", "not JSON"),
    ],
)
def test_feishu_error_codes_raise(
    plugins: Plugins, server: RecordingServer, answer: str, match: str
) -> None:
    server.reply(200, answer)
    with pytest.raises(NotifierError, match=match) as failed:
        plugins.notifiers["feishu"](note({"webhook_url": server.url()}))
    assert not failed.value.permanent


# -- dingtalk ----------------------------------------------------------------------------


def test_dingtalk_text_message(plugins: Plugins, server: RecordingServer) -> None:
    url = server.url("/robot/send") + "?access_token=abc123"
    plugins.notifiers["dingtalk"](note({"webhook_url": url}, subject=None))
    [request] = server.requests
    assert request.json() == {
        "msgtype": "text",
        "text": {"content": "「春季促销」 needs brand review"},
    }
    assert request.query == {"access_token": ["abc123"]}


def test_dingtalk_signs_the_url_with_its_secret(plugins: Plugins, server: RecordingServer) -> None:
    before = int(time.time() * 1000)
    url = server.url("/robot/send") + "?access_token=abc123"
    plugins.notifiers["dingtalk"](note({"webhook_url": url, "secret": SECRET}))
    [request] = server.requests
    assert request.query["access_token"] == ["abc123"]
    [timestamp] = request.query["timestamp"]
    assert before <= int(timestamp) <= int(time.time() * 1000)
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256)
    expected = base64.b64encode(digest.digest()).decode()
    assert request.query["sign"] == [expected]  # parse_qs undid the URL encoding
    assert "+" not in request.raw_query.split("sign=")[1]  # base64's + / = were encoded


def test_dingtalk_error_codes_raise(plugins: Plugins, server: RecordingServer) -> None:
    server.reply(200, '{"errcode":310000,"errmsg":"sign not match"}')
    with pytest.raises(NotifierError, match="dingtalk answered errcode 310000: sign not match"):
        plugins.notifiers["dingtalk"](note({"webhook_url": server.url()}))


# -- wecom -------------------------------------------------------------------------------


def test_wecom_text_message(plugins: Plugins, server: RecordingServer) -> None:
    url = server.url("/cgi-bin/webhook/send") + "?key=k-123"
    plugins.notifiers["wecom"](note({"webhook_url": url}))
    [request] = server.requests
    assert request.json() == {
        "msgtype": "text",
        "text": {"content": "审批提醒\n「春季促销」 needs brand review"},
    }
    assert request.query == {"key": ["k-123"]}


def test_wecom_cuts_text_to_its_byte_limit(plugins: Plugins, server: RecordingServer) -> None:
    plugins.notifiers["wecom"](note({"webhook_url": server.url()}, message="审" * 1000))
    content = server.requests[0].json()["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.endswith("…")


def test_wecom_error_codes_raise_without_the_key(plugins: Plugins, server: RecordingServer) -> None:
    server.reply(200, f'{{"errcode":93000,"errmsg":"invalid webhook url, key={TOKEN}"}}')
    with pytest.raises(NotifierError, match="wecom answered errcode 93000") as failed:
        plugins.notifiers["wecom"](note({"webhook_url": server.url() + f"?key={TOKEN}"}))
    assert TOKEN not in str(failed.value)


def test_chat_robots_raise_on_server_errors(plugins: Plugins, server: RecordingServer) -> None:
    for name in ("slack", "feishu", "dingtalk", "wecom"):
        server.reply(502, "bad gateway")
        with pytest.raises(NotifierError, match="HTTP 502") as failed:
            plugins.notifiers[name](note({"webhook_url": server.url()}))
        assert not failed.value.permanent


def test_scrub_hides_tokens_but_not_words() -> None:
    from opsflow.builtins.notifiers import safe_url, scrub

    url = "https://open.feishu.cn/open-apis/bot/v2/hook/0b2c4d6e-1234-5678-9abc-def012345678"
    settings = {"webhook_url": url, "secret": SECRET}
    text = f"the bot hook at {url} said 0b2c4d6e-1234-5678-9abc-def012345678 and {SECRET}"
    assert scrub(text, settings) == "the bot hook at *** said *** and ***"
    assert safe_url(url) == "https://open.feishu.cn/…"
    assert safe_url("https://u:pw@example.com:8443") == "https://example.com:8443"
