"""opsflow-sms-gateway: the notifier against a fake gateway, the freeze guard, the command."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from opsflow import Refused
from opsflow.plugins import Notification, Plugins
from opsflow.testing import project_engine

import opsflow_sms_gateway
from conftest import FakeGateway
from opsflow_sms_gateway.freeze import FREEZE_ENV
from opsflow_sms_gateway.notifier import GatewayError, safe_url, sms

API_KEY = "sk-test-0123456789"


@pytest.fixture
def plugins(opsflow_register: Callable[..., Plugins]) -> Plugins:
    """opsflow's built-ins with this plugin registered for the test."""
    return opsflow_register(opsflow_sms_gateway, "sms_gateway")


@pytest.fixture(autouse=True)
def no_freeze(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the freeze file at a path that does not exist yet (tests create it)."""
    path = tmp_path / "CHANGE_FREEZE"
    monkeypatch.setenv(FREEZE_ENV, str(path))
    return path


def channel(gateway: FakeGateway, **extra: Any) -> dict[str, Any]:
    return {"notifier": "sms", "url": gateway.url, "api_key": API_KEY, "sender": "OPS", **extra}


def note(settings: dict[str, Any], to: str = "+8613800000000", **extra: Any) -> Notification:
    fields: dict[str, Any] = {
        "channel": "oncall_sms",
        "to": to,
        "subject": None,
        "message": "「春季促销」 approved",
        "case": "c" * 32,
        "event": "approve",
        "dedupe_key": "k-1",
        "settings": settings,
    }
    fields.update(extra)
    return Notification(**fields)


def test_the_hooks_register_everything(plugins: Plugins) -> None:
    info = plugins.info("sms_gateway")
    assert info is not None
    assert info.notifiers == ["sms"]
    assert info.hooks == ["before_transition", "register_commands", "register_notifiers"]
    group = click.Group("opsflow")
    plugins.register_commands(group)
    assert info.commands == ["sms-test"]


def test_the_entry_point_is_declared() -> None:
    try:
        dist = importlib.metadata.distribution("opsflow-sms-gateway")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the package is not installed (pip install ./plugins/opsflow-sms-gateway)")
    [ep] = [ep for ep in dist.entry_points if ep.group == "opsflow"]
    assert (ep.name, ep.value) == ("sms_gateway", "opsflow_sms_gateway")


# -- the notifier -----------------------------------------------------------------------


def test_sms_posts_to_the_gateway(gateway: FakeGateway) -> None:
    settings = channel(gateway, recipients={"director": "+8613900000000"})
    assert sms(note(settings, to="director", subject="内容审批")) == "msg-1"
    [request] = gateway.requests
    assert request["path"] == "/v1/messages"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["headers"]["Idempotency-Key"] == "k-1"
    assert request["body"] == {
        "from": "OPS",
        "to": "+8613900000000",
        "text": "内容审批: 「春季促销」 approved",
        "reference": "k-1",
        "case": "c" * 32,
        "event": "approve",
    }


def test_a_gateway_error_raises_without_the_key(gateway: FakeGateway) -> None:
    gateway.fail_next(503)
    with pytest.raises(GatewayError) as caught:
        sms(note(channel(gateway)))
    message = str(caught.value)
    assert message.startswith(f"gateway {gateway.url} answered HTTP 503: overloaded")
    assert API_KEY not in message
    assert "Bearer ***" in message  # the gateway echoed it; the notifier scrubbed it


def test_an_unreachable_gateway_raises_without_credentials() -> None:
    url = f"http://user:{API_KEY}@127.0.0.1:9/v1/messages?key={API_KEY}"
    with pytest.raises(GatewayError, match="unreachable") as caught:
        sms(note({"url": url, "api_key": API_KEY, "timeout": 2}))
    assert API_KEY not in str(caught.value)
    assert safe_url(url) == "http://127.0.0.1:9/v1/messages"


def test_a_channel_without_url_is_an_error() -> None:
    with pytest.raises(GatewayError, match="channel 'oncall_sms': the sms notifier needs `url`"):
        sms(note({"api_key": API_KEY}))


# -- through the engine: outbox retry and the freeze guard --------------------------------

WORKFLOW = """\
workflow: incident
version: 1
title: Incident
roles: [oncall, director]
fields:
  title: {type: string, required: true}
states:
  open: {initial: true}
  resolved: {final: true}
transitions:
  - event: resolve
    from: open
    to: resolved
    roles: [oncall]
    do: [{notify: {channel: oncall_sms, to: director, message: "{{ title }} resolved"}}]
"""


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def incident_engine(tmp_path: Path, plugins: Plugins, gateway: FakeGateway, clock: Clock) -> Any:
    return project_engine(
        tmp_path / "project",
        workflows={"incident": WORKFLOW},
        plugins=plugins,
        team={"olga": ["oncall"]},
        channels={"oncall_sms": channel(gateway, recipients={"director": "+8613900000000"})},
        clock=clock,
    )


def test_a_failed_delivery_is_retried_by_the_outbox(
    plugins: Plugins, gateway: FakeGateway, tmp_path: Path
) -> None:
    clock = Clock()
    engine = incident_engine(tmp_path, plugins, gateway, clock)
    case = engine.start("incident", data={"title": "CDN down"}, actor="olga")
    engine.fire(case.id, "resolve", actor="olga")
    gateway.fail_next(502)

    first = engine.deliver_outbox()
    assert (first.delivered, first.retried) == (0, 1)
    [row] = engine.outbox()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "HTTP 502" in (row.last_error or "")
    assert API_KEY not in (row.last_error or "")

    clock.now += timedelta(hours=6)
    second = engine.deliver_outbox()
    assert second.delivered == 1
    [row] = engine.outbox()
    assert (row.status, row.attempts) == ("delivered", 2)
    keys = {r["headers"]["Idempotency-Key"] for r in gateway.requests}
    assert len(gateway.requests) == 2
    assert keys == {row.dedupe_key}
    assert gateway.requests[-1]["body"]["text"] == "CDN down resolved"


@pytest.mark.parametrize("line", ["resolve", "incident:resolve", "*", ""])
def test_a_change_freeze_refuses_the_event(
    plugins: Plugins, gateway: FakeGateway, tmp_path: Path, no_freeze: Path, line: str
) -> None:
    engine = incident_engine(tmp_path, plugins, gateway, Clock())
    case = engine.start("incident", data={"title": "CDN down"}, actor="olga")
    no_freeze.write_text(f"# 11.11 freeze, ask Carol\n{line}\n", encoding="utf-8")
    with pytest.raises(Refused) as caught:
        engine.fire(case.id, "resolve", actor="olga")
    assert caught.value.reasons == [
        f"change freeze ({no_freeze}) holds event 'resolve': 11.11 freeze, ask Carol"
    ]
    assert engine.status(case.id).state == "open"
    assert [e.kind for e in engine.history(case.id)] == ["start", "denied"]
    no_freeze.write_text("reject\n", encoding="utf-8")  # other events only
    engine.fire(case.id, "resolve", actor="olga")
    assert engine.status(case.id).state == "resolved"


# -- the command ------------------------------------------------------------------------


def test_sms_test_sends_through_the_configured_channel(
    plugins: Plugins, gateway: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "opsflow.yaml"
    config.write_text(
        "channels:\n"
        f"  oncall_sms: {{notifier: sms, url: '{gateway.url}', api_key: '${{SMS_KEY}}'}}\n"
        "  chat: {notifier: console}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("OPSFLOW_CONFIG", str(config))
    monkeypatch.setenv("SMS_KEY", API_KEY)
    cli = click.Group("opsflow")
    plugins.register_commands(cli)
    runner = CliRunner()

    result = runner.invoke(cli, ["sms-test", "+8613800000000"])
    assert result.exit_code == 0, result.output
    assert result.output == "sent to +8613800000000 through channel oncall_sms (gateway id msg-1)\n"
    assert gateway.requests[0]["body"]["text"] == "opsflow sms-test: the gateway works"

    gateway.fail_next(500)
    result = runner.invoke(cli, ["sms-test", "+8613800000000", "--message", "drill"])
    assert result.exit_code == 1
    assert "answered HTTP 500" in result.output
    assert API_KEY not in result.output

    result = runner.invoke(cli, ["sms-test", "+86138", "--channel", "chat"])
    assert result.exit_code == 2
    assert "no sms channel 'chat'" in result.output
