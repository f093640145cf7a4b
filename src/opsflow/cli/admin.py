"""Commands for admins: init, worker, outbox, audit verify, plugins."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option
from opsflow.cli.values import LIMIT, ROW_ID
from opsflow.errors import Busy, OpsflowError

if TYPE_CHECKING:
    from opsflow.core.results import WorkerReport
    from opsflow.facade import Engine
    from opsflow.runners.items import PassReport

TEMPLATE_SKIP = {"__pycache__", "__init__.py", ".DS_Store"}
EXIT_INCIDENTS = 1  # worker --once: incidents are open (failed automation needs a person)


def template_files(root: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    """Every file under the package's ``templates/``, as (relative path, resource)."""
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.name in TEMPLATE_SKIP or item.name.endswith(".pyc"):
            continue
        rel = f"{prefix}{item.name}"
        if item.is_dir():
            yield from template_files(item, rel + "/")
        else:
            yield rel, item


def copy_templates(dest: Path, *, force: bool) -> list[str]:
    """Copy the project template into ``dest``; refuses to overwrite unless ``force``."""
    from importlib.resources import files

    entries = list(template_files(files("opsflow") / "templates"))
    if not entries:
        raise OpsflowError("the opsflow package has no project template (broken installation?)")
    return write_files(dest, entries, force=force)


def write_files(dest: Path, entries: list[tuple[str, Traversable]], *, force: bool) -> list[str]:
    """Write template files under ``dest``; refuses to overwrite unless ``force``."""
    existing = [rel for rel, _ in entries if (dest / rel).exists()]
    if existing and not force:
        raise OpsflowError(
            f"refusing to overwrite {len(existing)} existing file(s) in {dest} (use --force)",
            existing,
        )
    for rel, resource in entries:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(resource.read_bytes())
    return [rel for rel, _ in entries]


def copy_plugin_template(name: str, dest: Path | None, *, force: bool) -> tuple[Path, list[str]]:
    """Copy the example plugin package ``name`` into ``dest`` (default ``./NAME``)."""
    from opsflow.cli import plugin_templates

    found = plugin_templates.find(name)
    if found is None:
        names = plugin_templates.available()
        listed = ", ".join(names) if names else "none (broken installation?)"
        raise click.BadParameter(
            f"no example plugin '{name}'; available: {listed}", param_hint="--plugin"
        )
    target = dest if dest is not None else Path(found)
    return target, write_files(target, list(plugin_templates.package_files(found)), force=force)


def _someone_with(config: Path, role: str) -> str | None:
    try:
        from opsflow.config import load_settings

        team = load_settings(config=str(config)).team
    except Exception:  # next-step hints only; a broken template is reported by validate
        return None
    return next((name for name, roles in team.items() if role in roles), None)


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option(
    "--plugin",
    metavar="NAME",
    help="Instead of a project, copy the example plugin package NAME (default DIRECTORY: ./NAME).",
)
@json_option
def init(directory: Path | None, force: bool, plugin: str | None, as_json: bool) -> None:
    """Create a ready project in DIRECTORY (default: here).

    Writes opsflow.yaml, workflows/ with the four standard workflows and their
    scenario tests, workflow.schema.json for editors, and sample data files.
    Existing files are never overwritten unless --force is given.

    With --plugin NAME, writes the example plugin package NAME instead (its
    pyproject.toml, code, tests and README) to start a plugin of your own from:
    opsflow-customer-value (calculators, functions) or opsflow-sms-gateway
    (a notifier, a guard, a command).

    Examples:

    \b
      opsflow init myproject && cd myproject
      opsflow init . --force        # restore the template files here
      opsflow init --plugin opsflow-sms-gateway opsflow-acme
    """
    if plugin is not None:
        target, created = copy_plugin_template(plugin, directory, force=force)
        if as_json:
            out.emit_json({"directory": str(target), "created": created})
            return
        out.success(f"created {len(created)} files in {target}")
        where = str(target) if target.is_absolute() else f"./{target}"
        out.echo(f"\nNext steps:\n  pip install -e '{where}[test]'\n  opsflow plugins")
        return
    directory = directory if directory is not None else Path(".")
    created = copy_templates(directory, force=force)
    if as_json:
        out.emit_json({"directory": str(directory), "created": created})
        return
    out.success(f"created {len(created)} files in {directory}")
    author = _someone_with(directory / "opsflow.yaml", "author") or "YOUR_NAME"
    where = "" if directory.resolve() == Path.cwd().resolve() else f"  cd {directory}\n"
    out.echo(
        "\nNext steps:\n"
        f"{where}"
        "  opsflow validate                  # check the workflows\n"
        "  opsflow test                      # run their scenario tests\n"
        f"  opsflow --as {author} start content_approval --set title='Hello'\n"
        "  opsflow worker                    # deadlines and notifications"
    )


def summarize(report: WorkerReport) -> str:
    """One line saying what a worker pass did."""
    parts = [
        f"{getattr(report, 'cases_started', 0)} scheduled case(s) started",
        f"{report.deadlines_fired} deadline(s) fired",
        f"{report.delivered} notification(s) delivered",
    ]
    if report.retried:
        parts.append(f"{report.retried} to retry")
    if report.failed:
        parts.append(f"{report.failed} failed")
    if report.automation_retried:
        parts.append(
            f"{report.automation_retried} failed automation retried "
            f"({report.automation_recovered} recovered)"
        )
    if report.incidents_opened:
        parts.append(f"{report.incidents_opened} incident(s) opened")
    if report.incidents_open:
        parts.append(f"{report.incidents_open} incident(s) open (see 'opsflow incidents')")
    return ", ".join(parts)


def _busy(report: WorkerReport) -> bool:
    return bool(
        getattr(report, "cases_started", 0)
        or report.deadlines_fired
        or report.deadlines_skipped
        or report.delivered
        or report.failed
        or report.retried
        or report.automation_retried
        or report.incidents_opened
        or report.errors
    )


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM ask the worker to stop after the item in hand; a second SIGINT aborts."""

    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    for signum in (signal.Signals.SIGINT, signal.Signals.SIGTERM):
        # outside the main thread signals cannot be caught: the caller stops us
        with contextlib.suppress(ValueError):
            previous[signum] = signal.signal(signum, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _LineHandler(logging.Handler):
    """Worker log lines on stderr; through rich's console when a progress line is shown."""

    def __init__(self, console: Any = None) -> None:
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            if self.console is not None:
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                click.echo(line, err=True)
        except Exception:  # logging must never stop the worker
            self.handleError(record)


@contextlib.contextmanager
def _worker_logging(style: str) -> Iterator[Any]:
    """Attach the one-line-per-item handler; yield a rich status when stderr is a terminal."""
    from opsflow.runners.items import LOG, ItemFormatter

    console = status = None
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        from rich.console import Console

        console = Console(stderr=True)
        status = console.status("worker starting…")
    handler = _LineHandler(console)
    handler.setFormatter(ItemFormatter(style))
    saved = (LOG.level, LOG.propagate)
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    try:
        if status is not None:
            with status:
                yield status
        else:
            yield None
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(saved[0])
        LOG.propagate = saved[1]


@click.command()
@click.option("--once", is_flag=True, help="Do one pass and exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Pause between passes.",
)
@click.option(
    "--log-format",
    type=click.Choice(["logfmt", "json"]),
    default="logfmt",
    show_default=True,
    help="How each item is logged on stderr (one line per item).",
)
@json_option
def worker(once: bool, interval: float, log_format: str, as_json: bool) -> None:
    """Start scheduled cases, fire due deadlines and deliver notifications.

    Each pass starts the due tick of every scheduled workflow, fires every due deadline
    and delivers the outbox. Without --once it runs until Ctrl-C or SIGTERM, finishing
    the item in hand first, then exits 0. Run as many workers as you like, on any hosts
    sharing a PostgreSQL database: each deadline fires once and each schedule tick starts
    one case. Every item is logged on stderr as one line (logfmt or JSON); on a terminal a
    progress line shows the totals. Automation that fails (a refused timer event, a
    missing data source, a plugin error) is retried with growing pauses and then kept as
    an incident: with --once the exit status is 1 while any incident is open (see
    'opsflow incidents').

    Examples:

    \b
      opsflow worker                       # keep running, a pass every 5 seconds
      opsflow worker --once --json         # one pass, e.g. from cron; prints the report
      opsflow worker --interval 30 --log-format json
    """
    engine = app().engine()
    stop = threading.Event()
    with _stop_on_signals(stop), _worker_logging(log_format) as status:
        if once:
            _run_one_pass(engine, stop, as_json=as_json)
            return
        total = _run_passes_until_stopped(engine, stop, status, interval, as_json=as_json)
    out.note("worker stopped")
    if as_json:
        out.emit_json(total.to_json())


def _run_one_pass(engine: Engine, stop: threading.Event, *, as_json: bool) -> None:
    """worker --once: one pass, its report printed; exit 1 while incidents are open."""
    report = engine.run_due(stop=stop.is_set)
    if as_json:
        out.emit_json(report.to_json())
    else:
        out.echo(summarize(report))
        for error in report.errors:
            out.note(f"warning: {error}")
    if report.incidents_open:  # failed automation waits for a person: say so
        raise click.exceptions.Exit(EXIT_INCIDENTS)


def _run_passes_until_stopped(
    engine: Engine, stop: threading.Event, status: Any, interval: float, *, as_json: bool
) -> PassReport:
    """A pass every ``interval`` seconds until ``stop`` is set; the totals of every pass."""
    from opsflow.runners.items import PassReport

    out.note(f"worker running, a pass every {interval:g}s (Ctrl-C to stop)")
    total = PassReport()
    passes = 0
    while not stop.is_set():
        report = _run_pass_or_warn(engine, stop, first=passes == 0)
        if report is not None:
            total.add(report)
            if _busy(report) and not as_json:
                out.note(f"{out.moment(_now())}  {summarize(report)}")
        passes += 1
        if status is not None:
            status.update(f"pass {passes}: {summarize(total)}; next pass in {interval:g}s")
        stop.wait(interval)
    return total


def _run_pass_or_warn(engine: Engine, stop: threading.Event, *, first: bool) -> WorkerReport | None:
    """One pass of a running worker; a failed pass is a warning (None) unless it is the first."""
    try:
        return engine.run_due(stop=stop.is_set)
    except Busy as exc:
        out.note(f"warning: {exc.message}; retrying next pass")
    except OpsflowError as exc:
        if first:  # a misconfiguration shows at once, with its exit code
            raise
        # later (a database restart, say): keep going, the next pass retries
        out.note(f"warning: {exc.message}; retrying next pass")
    return None


def _now() -> Any:
    from opsflow.clock import system_now

    return system_now()


def retry_window() -> str:
    """How long a notification is retried, worked out from the outbox's schedule."""
    import math

    from opsflow.runners.outbox import MAX_ATTEMPTS, schedule_bounds

    def hours(delta: Any, rounding: Any) -> str:
        minutes = int(rounding(delta.total_seconds() / 60))
        return f"{minutes // 60} h {minutes % 60} min"

    low, high = schedule_bounds()
    return (
        f"{MAX_ATTEMPTS} attempts, the last one {hours(low, math.floor)} to "
        f"{hours(high, math.ceil)} after the first"
    )


class OutboxGroup(click.Group):
    """The ``outbox`` group: its help states the retry window computed from the code."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The help text, with ``RETRY_WINDOW`` filled in (only this help imports the engine)."""
        self.help = (self.help or "").replace("RETRY_WINDOW", retry_window())
        super().format_help_text(ctx, formatter)


@click.group(cls=OutboxGroup, invoke_without_command=True)
@click.option("--failed", is_flag=True, help="Only notifications that gave up retrying.")
@click.option("--case", "case_id", metavar="CASE", help="Only this case's notifications.")
@click.option("--limit", type=LIMIT, default=50, show_default=True, metavar="N")
@json_option
@click.pass_context
def outbox(
    ctx: click.Context, failed: bool, case_id: str | None, limit: int, as_json: bool
) -> None:
    """Show notification delivery status (most recent first).

    Each notification is pending (delivery will be tried, again after a failure, with
    growing pauses), delivered, or failed (gave up after RETRY_WINDOW, or the receiver
    refused it for good). Errors never show secrets.

    Examples:

    \b
      opsflow outbox
      opsflow outbox --failed
      opsflow outbox --case 3f2a9c --json
      opsflow outbox retry 42          # queue failed notification 42 again
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = app().engine().outbox(failed=failed, case_id=case_id, limit=limit)
    if as_json:
        out.emit_json([r.to_json() for r in rows])
        return
    if not rows:
        out.note("no failed notifications" if failed else "the outbox is empty")
        return
    out.table(
        ["id", "case", "channel", "to", "status", "attempts", "created", "message", "last error"],
        [
            (
                r.id,
                r.case[:10],
                r.channel,
                r.to,
                r.status,
                r.attempts,
                out.moment(r.created_at),
                r.message[:60],
                r.last_error,
            )
            for r in rows
        ],
    )


@outbox.command("retry")
@click.argument("notification_id", metavar="ID", type=ROW_ID)
@json_option
def outbox_retry(notification_id: int, as_json: bool) -> None:
    """Queue failed notification ID for delivery again, with a fresh retry schedule.

    The next worker pass delivers it. Exits 5 when there is no such notification and
    4 when it has not failed (pending or delivered). When opsflow.yaml names a team and
    admins, only an admin may do this (exit 3 for anyone else).

    Examples:

    \b
      opsflow outbox --failed          # find the id
      opsflow outbox retry 42
    """
    from opsflow.engine.access import require_admin

    engine = app().engine()
    require_admin(engine, app().current_actor(), "retry notifications", local=True)
    row = engine.retry_notification(notification_id)
    if as_json:
        out.emit_json(row.to_json())
        return
    out.success(f"notification {row.id} queued again; the next worker pass delivers it")


@click.group()
def audit() -> None:
    """Check the tamper-evident history; take digests to keep outside the database.

    Examples:

    \b
      opsflow audit verify
      opsflow audit digest > digests/$(date +%F).json
      opsflow audit verify --against digests/2026-01-05.json
    """


@audit.command()
@click.option(
    "--against",
    "digest_file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A digest taken earlier ('opsflow audit digest'): also find truncated or "
    "rewritten histories and deleted cases.",
)
@json_option
def verify(digest_file: Path | None, as_json: bool) -> None:
    """Check every case: its history's hash chain, and its row against a replay of it.

    Names the first problem of each case: a broken or unreadable entry, or a case row
    (state, data, closed, approvals) that its history does not lead to. With --against,
    also a history shorter than, or different from, the digest, and cases deleted since.
    Exits 0 when every case is intact, 1 otherwise. When opsflow.yaml names a team and
    admins, only an admin may run it (exit 3 for anyone else).

    Examples:

    \b
      opsflow audit verify
      opsflow audit verify --against digests/2026-01-05.json
      opsflow --db postgresql+psycopg://ops@db/opsflow audit verify --json
    """
    from opsflow.engine.access import require_admin
    from opsflow.engine.digest import Digest

    engine = app().engine()
    require_admin(engine, app().current_actor(), "verify the audit", local=True)
    against = None
    if digest_file is not None:
        against = Digest.parse(digest_file.read_text(encoding="utf-8"), str(digest_file))
    checked, problems = engine.audit_verify(against)
    if as_json:
        out.emit_json(
            {
                "ok": not problems,
                "cases_checked": checked,
                "problems": [p.to_json() for p in problems],
            }
        )
    else:
        for p in problems:
            out.echo(f"{p.case} seq {p.seq}: {p.reason}")
        if not problems:
            out.success(
                f"ok: {checked} case(s) checked, every history chain is intact and matches its case"
            )
    if problems:
        out.print_error(f"the history of {len(problems)} case(s) is broken")
        raise click.exceptions.Exit(1)


@audit.command()
def digest() -> None:
    """Print a digest: each case's last history entry (seq, hash) and one root hash.

    Keep it where the database's admins cannot change it (write-once storage, a
    ticket), and take one at least as often as you could afford to lose history.
    'opsflow audit verify --against FILE' then finds histories cut back or rewritten
    since, and cases deleted with their history. The root hash alone, kept elsewhere,
    shows whether the file itself was edited.

    Examples:

    \b
      opsflow audit digest > digests/$(date +%F).json
    """
    out.emit_json(app().engine().audit_digest().to_json())


@click.command()
@json_option
def plugins(as_json: bool) -> None:
    """List installed plugins with their calculators, notifiers, functions and commands.

    A plugin that failed to load is listed with its error.

    Examples:

    \b
      opsflow plugins
      opsflow --plugins-dir ./plugins plugins --json
      OPSFLOW_DISABLE_PLUGIN_AUTOLOAD=1 opsflow plugins    # built-ins only
    """
    ctx = click.get_current_context()
    root = ctx.find_root().command
    if hasattr(root, "plugin_commands"):  # fills each plugin's list of commands
        root.plugin_commands(ctx)
    loaded = app().plugins()
    infos = [i.to_json() for i in loaded.infos]
    errors = [e.to_json() for e in loaded.errors]
    if as_json:
        out.emit_json(infos + errors)
        return
    rows = []
    for info in infos:
        provides = [
            f"{kind}: {', '.join(info[kind])}"
            for kind in ("calculators", "notifiers", "functions", "commands")
            if info.get(kind)
        ]
        hooks = ", ".join(info["hooks"])
        rows.append((info["name"], info["kind"], info.get("version"), hooks, "; ".join(provides)))
    out.table(["plugin", "kind", "version", "hooks", "provides"], rows)
    for e in errors:
        out.print_error(f"plugin {e['name']} failed to load: {e['error']}")


COMMANDS = [init, worker, outbox, audit, plugins]
