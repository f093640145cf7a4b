"""``opsflow sms-test``: send one test message through a configured ``sms`` channel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import click

from opsflow_sms_gateway.notifier import GatewayError, sms


@dataclass(frozen=True)
class TestMessage:
    """A notification built by hand (the notifier only reads these attributes)."""

    __test__ = False  # not a pytest test class

    channel: str
    to: str
    message: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    subject: str | None = None
    case: str = "sms-test"
    event: str | None = None
    dedupe_key: str = "sms-test"


def pick_channel(channels: Mapping[str, Mapping[str, Any]], name: str | None) -> str:
    """The channel to use: ``name``, else the only channel whose notifier is ``sms``."""
    sms_channels = [n for n, c in channels.items() if c.get("notifier") == "sms"]
    if name is not None:
        if name not in sms_channels:
            known = ", ".join(sms_channels) or "none"
            raise click.UsageError(f"no sms channel '{name}' in the configuration (sms: {known})")
        return name
    if len(sms_channels) != 1:
        found = ", ".join(sms_channels) or "none"
        raise click.UsageError(f"name the channel with --channel (sms channels: {found})")
    return sms_channels[0]


@click.command("sms-test")
@click.argument("to")
@click.option("--channel", metavar="NAME", help="An sms channel of opsflow.yaml.")
@click.option(
    "--message",
    default="opsflow sms-test: the gateway works",
    show_default=True,
    help="The text to send.",
)
@click.pass_context
def sms_test(ctx: click.Context, to: str, channel: str | None, message: str) -> None:
    """Send one test SMS to TO (a number, or a role mapped in the channel's recipients).

    Uses the channel's settings from opsflow.yaml (--config, OPSFLOW_CONFIG or
    ./opsflow.yaml). Exits 1 if the gateway does not accept the message.

    Examples:

    \b
      opsflow sms-test +8613800000000
      opsflow sms-test director --channel oncall_sms --message "drill, please ignore"
    """
    from opsflow import Engine

    root = ctx.find_root().params  # opsflow's global options: --config, --db, ...
    settings = Engine.from_config(root.get("config")).settings
    name = pick_channel(settings.channels, channel)
    note = TestMessage(channel=name, to=to, message=message, settings=settings.channels[name])
    try:
        message_id = sms(note)  # type: ignore[arg-type]  # duck-typed Notification
    except GatewayError as exc:
        raise click.ClickException(settings.redact(str(exc))) from None
    suffix = f" (gateway id {message_id})" if message_id else ""
    click.echo(f"sent to {to} through channel {name}{suffix}")
