"""The ``opsflow`` command: the root group, its global options and ``main()``.

Only click and the standard library are imported here and in the command modules'
top level; everything heavy (the engine, SQLAlchemy, rich, Jinja2) is imported inside
the commands that need it, so ``opsflow --help`` starts fast.

For plugin commands: :func:`get_engine`, :func:`current_actor` and :func:`pass_engine`
give the engine and the actor of the running command (``--db``, ``--as``, …).
"""

from __future__ import annotations

import logging
import os
from typing import Any, NoReturn

import click

from opsflow.cli import plugin_probe, process
from opsflow.cli.context import AppContext, app, current_actor, get_engine, pass_engine
from opsflow.cli.errors import fail
from opsflow.cli.values import check_name

SECTIONS: dict[str, tuple[str, ...]] = {
    "Cases": (
        "start",
        "fire",
        "set",
        "status",
        "cases",
        "inbox",
        "history",
        "compute",
        "bulk",
        "assign",
        "unassign",
        "claim",
    ),
    "Workflows": ("workflows", "show", "graph", "schema", "validate", "test", "calendar"),
    "Administration": (
        "init",
        "demo",
        "worker",
        "serve",
        "incidents",
        "outbox",
        "audit",
        "token",
        "user",
        "plugins",
        "db",
        "migrate",
    ),
}
# Commands whose set-up is building the engine: the collector resumes once it is built
# (AppContext.engine); every other command resumes it before it starts (see cli.process).
ENGINE_COMMANDS = frozenset(
    ("start", "fire", "set", "status", "cases", "inbox", "history", "compute", "worker")
    + ("incidents", "bulk", "assign", "unassign", "claim")
)


class OpsflowGroup(click.Group):
    """The root group: maps every error to its exit code and adds plugin commands lazily."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; opsflow errors and unexpected exceptions become exit codes."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except BrokenPipeError:  # `opsflow history X | head`: click handles the reader leaving
            raise
        except Exception as exc:
            self._fail(ctx, exc)

    def _fail(self, ctx: click.Context, exc: Exception) -> NoReturn:
        """Report ``exc`` (cli.errors decides message and exit code) and exit."""
        obj = app(ctx)
        settings = obj.loaded_settings
        fail(
            exc,
            json_mode=obj.json_mode,
            debug=obj.debug,
            db_url=settings.db_url if settings else obj.db,
            redact=settings.redact if settings else None,
        )

    def plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        """The commands plugins add (loading the plugins once, on first need)."""
        return _global_options(ctx).plugin_commands()

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The subcommand to run; the start-up ends here unless it builds the engine."""
        name, command, rest = super().resolve_command(ctx, args)
        if name not in ENGINE_COMMANDS:
            process.ready()
        return name, command, rest

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else one a plugin registered."""
        command = super().get_command(ctx, cmd_name)
        if command is None and not cmd_name.startswith("-"):
            command = self.plugin_commands(ctx).get(cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in commands, then plugin commands (loaded only where a plugin could add one)."""
        obj = _global_options(ctx)
        if not plugin_probe.commands_possible(config=obj.config, plugins_dir=obj.plugins_dir):
            return super().list_commands(ctx)
        added = obj.plugin_commands()
        return super().list_commands(ctx) + sorted(n for n in added if n not in self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Commands grouped by what an operator is doing; plugin commands last."""
        listed: set[str] = set()
        names = self.list_commands(ctx)
        builtin = tuple(n for n in names if n in self.commands)
        added = tuple(n for n in names if n not in self.commands)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        groups = [*SECTIONS.items(), ("More commands", builtin), ("Plugin commands", added)]
        for section, members in groups:
            rows = []
            for name in members:
                command = self.get_command(ctx, name) if name in names else None
                if name in listed or command is None or command.hidden:
                    continue
                listed.add(name)
                rows.append((name, command.get_short_help_str(limit)))
            if rows:
                with formatter.section(section):
                    formatter.write_dl(rows)


@click.group(
    cls=OpsflowGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db", metavar="URL", help="Database URL [env: OPSFLOW_DB; default sqlite:///opsflow.db]."
)
@click.option(
    "--workflows",
    metavar="DIR",
    help="Folder of workflow files [env: OPSFLOW_WORKFLOWS; default workflows/].",
)
@click.option(
    "--config",
    metavar="FILE",
    is_eager=True,  # read before --help, which lists the plugin commands of this project
    help="Project configuration [env: OPSFLOW_CONFIG; default ./opsflow.yaml if present].",
)
@click.option(
    "--as",
    "actor",
    metavar="NAME",
    callback=check_name,
    help="Act as this person [env: OPSFLOW_ACTOR; default your login name].",
)
@click.option(
    "--plugins-dir",
    metavar="DIR",
    is_eager=True,  # read before --help, which lists the plugin commands of this folder
    help="Load every *.py plugin module in DIR.",
)
@click.option(
    "--debug",
    is_flag=True,
    default=lambda: os.environ.get("OPSFLOW_DEBUG", "") not in ("", "0"),
    help="Show tracebacks of unexpected errors.",
)
@click.version_option(package_name="opsflow", prog_name="opsflow")
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    workflows: str | None,
    config: str | None,
    actor: str | None,
    plugins_dir: str | None,
    debug: bool,
) -> None:
    """opsflow runs your team's YAML workflows as persisted state machines.

    Workflows live in workflows/*.yaml; cases, history and deadlines live in the
    database (SQLite by default, PostgreSQL to share). Settings come from the option,
    else the environment variable, else opsflow.yaml, else the default. OPSFLOW_NOW
    (ISO 8601) fixes the clock for simulations. The CLI trusts the local account:
    --as / OPSFLOW_ACTOR say who you are, roles come from the team in opsflow.yaml.

    Exit codes: 0 done, 1 error, 2 usage, 3 not permitted, 4 refused, 5 not found,
    6 conflict, 65 invalid workflow or data, 75 busy (try again).

    Examples:

    \b
      opsflow demo                                # see a case go from draft to published
      opsflow init myproject && cd myproject
      opsflow validate
      opsflow --as ann start content_approval --set title='Spring sale'
      opsflow --as ed fire 3f2a9c approve --comment 'LGTM'
      opsflow status 3f2a9c
    """
    obj = ctx.ensure_object(AppContext)
    obj.db, obj.workflows, obj.config = db, workflows, config
    obj.actor, obj.plugins_dir, obj.debug = actor, plugins_dir, debug
    _log_warnings(debug)
    ctx.call_on_close(obj.close)


class _WarningFormatter(logging.Formatter):
    """``warning: MESSAGE`` on one line; the traceback only with --debug."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            if self.debug:
                return line + "\n" + self.formatException(record.exc_info)
            line += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        return line


def _log_warnings(debug: bool) -> None:
    """Library warnings (a plugin hook that raised, …) reach stderr as one plain line."""
    logger = logging.getLogger("opsflow")
    for handler in list(logger.handlers):
        if getattr(handler, "_opsflow_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._opsflow_cli = True  # type: ignore[attr-defined]
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    handler.setFormatter(_WarningFormatter(debug))
    logger.addHandler(handler)


def _global_options(ctx: click.Context) -> AppContext:
    """The invocation's AppContext, filled from the parsed global options if need be.

    click resolves a subcommand before it runs the root group's callback, so when a plugin
    command is looked up (``opsflow --plugins-dir DIR my-command``) the global options are
    only in ``ctx.params`` yet; without this the plugins would load with the defaults.
    """
    if ctx.obj is None and ctx.command is cli:
        obj = ctx.ensure_object(AppContext)
        params = ctx.params
        obj.db, obj.workflows = params.get("db"), params.get("workflows")
        obj.config, obj.actor = params.get("config"), params.get("actor")
        obj.plugins_dir = params.get("plugins_dir")
        obj.debug = bool(params.get("debug", False))
        return obj
    return app(ctx)


def _register() -> None:
    from opsflow.cli import (
        admin,
        assign,
        bulk,
        calendar_cmd,
        cases,
        db_cmd,
        demo,
        identity,
        incidents,
        migrate_cmd,
        serve,
        testing_cmd,
        workflows,
    )

    modules = (
        cases,
        bulk,
        assign,
        workflows,
        calendar_cmd,
        admin,
        incidents,
        identity,
        testing_cmd,
        demo,
        db_cmd,
        migrate_cmd,
        serve,
    )
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """Run the ``opsflow`` command in this process; it ends by raising ``SystemExit``."""
    cli.main(prog_name="opsflow")


def run() -> None:
    """The ``opsflow`` program (console script, ``python -m opsflow``): start, run, end.

    As :func:`main`, but it owns the process (see :mod:`opsflow.cli.process`): the
    collector is paused during start-up and the process ends without module teardown.
    """
    process.start()
    try:
        main()
    except SystemExit as exc:
        process.end(exc.code)  # returns only where the normal shutdown must run
        raise
    except BaseException:
        process.abandon()
        raise


__all__ = ["cli", "current_actor", "get_engine", "main", "pass_engine", "run"]
