"""The state one CLI invocation carries: the global options, settings and a lazily built engine.

Plugin commands use the public helpers :func:`get_engine`, :func:`current_actor` and
:func:`pass_engine` (exported by :mod:`opsflow.cli`) to act on the project the global
options name (``--db``, ``--config``, ``--as``, …).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from opsflow.cli import process

if TYPE_CHECKING:
    from opsflow.config import Settings
    from opsflow.facade import Engine
    from opsflow.plugins import Plugins


@dataclass
class AppContext:
    """Global options as given on the command line; settings and engine are built on demand."""

    db: str | None = None
    workflows: str | None = None
    config: str | None = None
    actor: str | None = None
    plugins_dir: str | None = None
    debug: bool = False
    json_mode: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)
    _plugins: Plugins | None = field(default=None, repr=False)
    _plugin_commands: dict[str, click.Command] | None = field(default=None, repr=False)

    @property
    def loaded_settings(self) -> Settings | None:
        """The settings if they have been resolved, else None (nothing is read)."""
        return self._settings

    def adopt(self, settings: Settings) -> None:
        """Use ``settings`` from here on: a command that builds a project of its own (the
        demo) shows its times on that project's clocks."""
        self._settings = settings

    def settings(self) -> Settings:
        """The resolved settings (option > environment > opsflow.yaml > default)."""
        if self._settings is None:
            from opsflow.config import load_settings

            self._settings = load_settings(
                db=self.db,
                workflows=self.workflows,
                config=self.config,
                actor=self.actor,
                plugins_dir=self.plugins_dir,
            )
        return self._settings

    def plugins(self) -> Plugins:
        """The plugins, loaded once (the engine's own when it has been built)."""
        if self._engine is not None:
            return self._engine.plugins
        if self._plugins is None:
            from opsflow.plugins import load_plugins

            settings = self.settings()
            self._plugins = load_plugins(
                plugins_dir=settings.plugins_dir,
                allow=settings.plugins_allow,
                strict=settings.plugins_strict,
            )
        return self._plugins

    def plugin_commands(self) -> dict[str, click.Command]:
        """The commands plugins add, registered once per invocation."""
        if self._plugin_commands is None:
            holder = click.Group("plugins")
            try:
                self.plugins().register_commands(holder)
                self._plugin_commands = dict(holder.commands)
            except Exception:  # a broken plugin must not break the CLI; `opsflow plugins` says why
                self._plugin_commands = {}
        return self._plugin_commands

    def engine(self, **extra: Any) -> Engine:
        """The engine on the configured database, built on first use."""
        if self._engine is None:
            from opsflow.facade import Engine

            kwargs: dict[str, Any] = {"settings": self.settings(), "plugins": self._plugins}
            kwargs.update(extra)
            self._engine = Engine(**kwargs)
            process.ready()
        return self._engine

    def current_actor(self) -> str:
        """Who is acting: ``--as``, ``OPSFLOW_ACTOR``, the configured default or the OS login."""
        return self.settings().actor

    def close(self) -> None:
        """Release the engine's database connections, if one was built."""
        engine, self._engine = self._engine, None
        closer = getattr(engine, "close", None)
        if callable(closer):
            closer()

    @property
    def base_dir(self) -> Path:
        """The project directory (where opsflow.yaml lives, else the working directory)."""
        return self.settings().base_dir


def app(ctx: click.Context | None = None) -> AppContext:
    """The :class:`AppContext` of the running command."""
    ctx = ctx or click.get_current_context()
    obj = ctx.find_object(AppContext)
    if obj is None:  # a command invoked on its own (tests, plugins)
        obj = ctx.ensure_object(AppContext)
    return obj


def get_engine(ctx: click.Context | None = None) -> Engine:
    """The :class:`~opsflow.Engine` of the running command, on the project its options name.

    ``--db``, ``--workflows``, ``--config``, ``--plugins-dir`` (and their environment
    variables and ``opsflow.yaml``) are applied; the engine is built once per command.
    """
    return app(ctx).engine()


def current_actor(ctx: click.Context | None = None) -> str:
    """Who runs the command: ``--as``, ``OPSFLOW_ACTOR``, else the OS login name."""
    return app(ctx).current_actor()


P = ParamSpec("P")
R = TypeVar("R")


def pass_engine(command: Callable[Concatenate[Engine, P], R]) -> Callable[P, R]:
    """Decorate a click command to receive the configured engine as its first argument."""

    @functools.wraps(command)
    def with_engine(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(get_engine(), *args, **kwargs)

    return with_engine


def json_option(func: Any) -> Any:
    """``--json``: print one JSON document on stdout (errors too)."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            app(ctx).json_mode = True
        return value

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=remember,
        is_eager=True,
        help="Print one JSON document on stdout.",
    )(func)
