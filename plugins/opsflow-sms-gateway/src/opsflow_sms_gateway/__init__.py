"""opsflow plugin: an ``sms`` notifier, a change-freeze guard and ``opsflow sms-test``.

Installed with pip, opsflow finds it through the entry point ``sms_gateway`` in the group
``opsflow`` (see ``pyproject.toml``); this module holds the hook implementations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click
from opsflow import hookimpl

from opsflow_sms_gateway import freeze
from opsflow_sms_gateway.command import sms_test
from opsflow_sms_gateway.notifier import GatewayError, sms

__version__ = "0.1.0"


@hookimpl
def register_notifiers(register: Callable[..., Any]) -> None:
    """The ``sms`` notifier."""
    register("sms", sms)


@hookimpl
def before_transition(case: Mapping[str, Any], transition: Mapping[str, Any]) -> str | None:
    """Refuse events held by a change freeze (see :mod:`opsflow_sms_gateway.freeze`)."""
    return freeze.refusal(case, transition)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """``opsflow sms-test``."""
    cli.add_command(sms_test)


__all__ = ["GatewayError", "__version__", "sms", "sms_test"]
