"""The email notifier against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from local_services import free_port
from opsflow.builtins.notifiers import NotifierError, PermanentNotifierError
from opsflow.builtins.notifiers_email import recipients
from opsflow.plugins import Notification, Plugins

PASSWORD = "pa55-w0rd-secret"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        data = self.data.replace(b"\r\n", b"\n")  # SMTP's line ends, back to Python's
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """An aiosmtpd handler that records messages and can refuse recipients or data."""

    received: list[Received] = field(default_factory=list)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's naming
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.password.decode() == PASSWORD
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=recorder.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield recorder, port
    controller.stop()


def note(settings: dict[str, Any], **changes: Any) -> Notification:
    fields: dict[str, Any] = {
        "channel": "mail",
        "to": "ann@example.com",
        "subject": "审批提醒：「春季促销」需要品牌审核",
        "message": "您好，\n\n「春季促销」 needs brand review.\n— opsflow",
        "case": "c0ffee1234567890c0ffee1234567890",
        "event": "approve",
        "dedupe_key": "5f1d9c0a6b7e4d2f8a3c1e5b7d9f0a2c",
        "settings": {"notifier": "email", **settings},
    }
    fields.update(changes)
    return Notification(**fields)


def test_email_keeps_utf8_subject_and_body(plugins: Plugins, smtp: tuple[Recorder, int]) -> None:
    recorder, port = smtp
    notification = note({"host": "127.0.0.1", "port": port, "sender": "ops@example.com"})
    plugins.notifiers["email"](notification)
    [got] = recorder.received
    assert got.mail_from == "ops@example.com"
    assert got.rcpt_tos == ["ann@example.com"]
    raw_subject = got.data.split(b"Subject:", 1)[1].split(b"\n", 1)[0]
    assert raw_subject.isascii()
    assert b"=?utf-8?" in raw_subject.lower()
    message = got.message()
    assert message["Subject"] == "审批提醒：「春季促销」需要品牌审核"
    assert message["From"] == "ops@example.com"
    assert message["To"] == "ann@example.com"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == notification.message + "\n"
    assert message["Message-ID"] == "<5f1d9c0a6b7e4d2f8a3c1e5b7d9f0a2c.opsflow@example.com>"
    assert message["X-Opsflow-Case"] == notification.case


def test_email_without_a_subject_uses_the_first_line(
    plugins: Plugins, smtp: tuple[Recorder, int]
) -> None:
    recorder, port = smtp
    settings = {"host": "127.0.0.1", "port": port, "from": "ops@example.com"}
    plugins.notifiers["email"](note(settings, subject=None))
    assert recorder.received[0].message()["Subject"] == "您好，"


def test_email_resolves_roles_and_people(plugins: Plugins, smtp: tuple[Recorder, int]) -> None:
    recorder, port = smtp
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "运营 <ops@example.com>",
        "addresses": {"ann": "ann@corp.example", "legal": ["l1@corp.example", "l2@corp.example"]},
        "domain": "corp.example",
        "_team": {"ann": ["brand"], "bob": ["brand", "editor"], "cy": ["legal"]},
    }
    plugins.notifiers["email"](note(settings, to="brand; legal, x@y.example"))
    [got] = recorder.received
    assert got.rcpt_tos == [
        "ann@corp.example",
        "bob@corp.example",
        "l1@corp.example",
        "l2@corp.example",
        "x@y.example",
    ]
    assert got.message()["From"].addresses[0].display_name == "运营"


def test_recipient_rules() -> None:
    team = {"ann": ["brand"], "bob": ["brand"]}
    assert recipients(note({}, to="a@x.example, b@x.example")) == ["a@x.example", "b@x.example"]
    assert recipients(note({"addresses": {"bob": "b@x.example"}, "_team": team}, to="bob")) == [
        "b@x.example"
    ]
    assert recipients(note({"domain": "x.example"}, to="dora")) == ["dora@x.example"]
    assert recipients(note({"addresses": {"ann": "a@x.example"}}, to="ann, ann")) == ["a@x.example"]
    with pytest.raises(NotifierError, match=r"no email address for bob \(brand\)"):
        recipients(note({"addresses": {"ann": "a@x.example"}, "_team": team}, to="brand"))
    with pytest.raises(NotifierError, match="no email address for nobody"):
        recipients(note({}, to="nobody"))


def test_email_logs_in_and_never_shows_the_password(
    plugins: Plugins, smtp: tuple[Recorder, int]
) -> None:
    recorder, port = smtp
    settings = {"host": "127.0.0.1", "port": port, "sender": "ops@example.com"}
    plugins.notifiers["email"](note({**settings, "username": "opsbot", "password": PASSWORD}))
    assert recorder.logins == ["opsbot"]
    with pytest.raises(PermanentNotifierError, match="answered 535") as failed:
        plugins.notifiers["email"](note({**settings, "username": "opsbot", "password": "wrong"}))
    assert PASSWORD not in str(failed.value)
    assert "wrong" not in str(failed.value)


@pytest.mark.parametrize(
    ("reply", "permanent"), [("550 5.1.1 no such user", True), ("450 4.2.1 try later", False)]
)
def test_refused_recipients(
    plugins: Plugins, smtp: tuple[Recorder, int], reply: str, permanent: bool
) -> None:
    recorder, port = smtp
    recorder.refuse_rcpt["ann@example.com"] = reply
    with pytest.raises(NotifierError, match="refused every recipient") as failed:
        plugins.notifiers["email"](note({"host": "127.0.0.1", "port": port, "sender": "o@x.io"}))
    assert failed.value.permanent is permanent


def test_partly_refused_recipients_fail_without_a_resend(
    plugins: Plugins, smtp: tuple[Recorder, int]
) -> None:
    recorder, port = smtp
    recorder.refuse_rcpt["b@example.com"] = "550 5.1.1 no such user"
    settings = {"host": "127.0.0.1", "port": port, "sender": "o@x.io"}
    with pytest.raises(PermanentNotifierError, match=r"refused some recipients: b@example.com"):
        plugins.notifiers["email"](note(settings, to="ann@example.com, b@example.com"))
    assert recorder.received[0].rcpt_tos == ["ann@example.com"]


@pytest.mark.parametrize(
    ("reply", "permanent"), [("554 5.6.0 rejected", True), ("451 4.3.0 try again", False)]
)
def test_refused_data(
    plugins: Plugins, smtp: tuple[Recorder, int], reply: str, permanent: bool
) -> None:
    recorder, port = smtp
    recorder.data_reply = reply
    with pytest.raises(NotifierError, match=f"SMTP 127.0.0.1:{port} answered {reply[:3]}") as e:
        plugins.notifiers["email"](note({"host": "127.0.0.1", "port": port, "sender": "o@x.io"}))
    assert e.value.permanent is permanent


def test_a_server_that_never_greets_fails_within_the_timeout(plugins: Plugins) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(NotifierError, match=f"SMTP 127.0.0.1:{port}: .*timed out"):
            plugins.notifiers["email"](
                note({"host": "127.0.0.1", "port": port, "sender": "o@x.io", "timeout": 0.5})
            )
        assert time.monotonic() - started < 3
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_closed_port_is_an_error(plugins: Plugins) -> None:
    port = free_port()
    with pytest.raises(NotifierError, match=f"SMTP 127.0.0.1:{port}: ConnectionRefusedError"):
        plugins.notifiers["email"](note({"host": "127.0.0.1", "port": port, "sender": "o@x.io"}))


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"host": "127.0.0.1"}, "needs `sender`"),
        ({"sender": "o@x.io", "port": "smtp"}, "`port` must be a TCP port"),
        ({"sender": "o@x.io", "timeout": -1}, "`timeout` must be a number"),
    ],
)
def test_bad_email_settings(plugins: Plugins, settings: dict[str, Any], match: str) -> None:
    with pytest.raises(NotifierError, match=match):
        plugins.notifiers["email"](note(settings))
