"""What plugins and opsflow hand each other: calculators, notifications, plugin infos.

The records of :mod:`opsflow.plugins` (which re-exports them), in a module of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opsflow.errors import Invalid, OpsflowError

Notifier = Callable[["Notification"], None]


@dataclass(frozen=True)
class CalculatorContext:
    """What a calculator sees: the case (read-only), the data sources, now, the base dir."""

    case: Mapping[str, Any]
    sources: Mapping[str, Mapping[str, Any]]
    now: datetime
    base_dir: Path


@dataclass(frozen=True)
class Calculator:
    """A metric calculator registered by a plugin."""

    name: str
    fn: Callable[[Any, CalculatorContext], Any]
    params_model: type | None
    plugin: str

    def run(
        self, params: Mapping[str, Any], ctx: CalculatorContext, *, metric: str | None = None
    ) -> Any:
        """Validate ``params`` (through ``params_model`` when given) and call the calculator.

        Errors name the metric and calculator: a bad param is :class:`Invalid`, an opsflow
        error raised by the calculator keeps its class, anything else is an ``OpsflowError``.
        """
        label = f"calculator '{self.name}'"
        if metric:
            label = f"metric '{metric}' ({label})"
        args: Any = dict(params)
        if self.params_model is not None:
            args = _validate_params(self.params_model, args, label)
        try:
            return self.fn(args, ctx)
        except OpsflowError as exc:
            raise type(exc)(f"{label}: {exc.message}", exc.reasons) from exc
        except Exception as exc:
            raise OpsflowError(
                f"{label} failed: {type(exc).__name__}: {exc}", [f"plugin: {self.plugin}"]
            ) from exc


def _validate_params(model: type, params: dict[str, Any], label: str) -> Any:
    """Validate params through a pydantic model, turning its errors into one Invalid."""
    from pydantic import ValidationError

    try:
        return model.model_validate(params)  # type: ignore[attr-defined]
    except ValidationError as exc:
        reasons = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            text = error["msg"].removeprefix("Value error, ")
            reasons.append(f"param '{where}': {text}" if where else text)
        raise Invalid(f"{label}: {'; '.join(reasons)}", reasons) from None


@dataclass(frozen=True)
class Notification:
    """One notification handed to a notifier (SPEC §4)."""

    channel: str
    to: str
    subject: str | None
    message: str
    case: str
    event: str | None
    dedupe_key: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The notification without the channel's settings (which may hold secrets)."""
        return {
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "message": self.message,
            "case": self.case,
            "event": self.event,
            "dedupe_key": self.dedupe_key,
        }


@dataclass
class PluginInfo:
    """What one plugin is and what it registered (for ``opsflow plugins``)."""

    name: str
    kind: str  # "builtin", "installed" or "local"
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    calculators: list[str] = field(default_factory=list)
    notifiers: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "hooks": self.hooks,
            "calculators": self.calculators,
            "notifiers": self.notifiers,
            "functions": self.functions,
            "commands": self.commands,
        }


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to load or register, with the error's text."""

    name: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name}: {self.error}"

    def to_json(self) -> dict[str, str]:
        """A JSON-able dict."""
        return {"name": self.name, "error": self.error}
