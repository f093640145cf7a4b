"""``opsflow bulk fire``: one event on many cases, each case its own step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from opsflow.cli import identity
from opsflow.cli import output as out
from opsflow.cli.cases import set_option
from opsflow.cli.context import app, json_option
from opsflow.cli.errors import EXIT_OK
from opsflow.cli.values import check_comment, check_name, split_assignments
from opsflow.errors import Refused

if TYPE_CHECKING:
    from opsflow.runners.bulk import BulkItem, BulkResult

Progress = Callable[[int, int], None]


@click.group()
def bulk() -> None:
    """Apply one event to many cases (each case its own step).

    Examples:

    \b
      opsflow --as ed bulk fire approve 3f2a9c 7b1e04
      opsflow --as ed bulk fire approve --workflow content_approval --state review --dry-run
    """


@bulk.command(name="fire")
@click.argument("event")
@click.argument("cases", nargs=-1, metavar="[CASE]...")
@click.option("--case", "more_cases", multiple=True, metavar="CASE", help="A case (repeatable).")
@click.option("--workflow", metavar="WORKFLOW", help="Filter: cases of this workflow.")
@click.option(
    "--state", "states", multiple=True, metavar="STATE", help="Filter: in this state (repeatable)."
)
@click.option("--where", metavar="EXPR", help='Filter: an expression, e.g. "budget > 10000".')
@click.option("--q", "text_query", metavar="TEXT", help="Filter: text in the case's fields.")
@click.option("--assignee", metavar="NAME", help="Filter: cases assigned to NAME.")
@click.option("--open", "only_open", is_flag=True, help="Filter: only open cases.")
@click.option("--closed", "only_closed", is_flag=True, help="Filter: only closed cases.")
@set_option
@click.option(
    "--comment", metavar="TEXT", callback=check_comment, help="A comment kept in each history."
)
@click.option(
    "--key",
    metavar="KEY",
    callback=check_name,
    help="Idempotency key: each case gets KEY:CASE_ID; a repeat replays the cases done.",
)
@click.option("--dry-run", is_flag=True, help="Show what each case would do; write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal.")
@json_option
def fire(
    event: str,
    cases: tuple[str, ...],
    more_cases: tuple[str, ...],
    workflow: str | None,
    states: tuple[str, ...],
    where: str | None,
    text_query: str | None,
    assignee: str | None,
    only_open: bool,
    only_closed: bool,
    assignments: tuple[str, ...],
    comment: str | None,
    key: str | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Fire EVENT on the CASEs named, or on every case a filter selects.

    Each case is its own step, under the rules of `opsflow fire` (roles, four-eyes,
    guards, --key): a case refused or failing does not stop the others. At most
    10,000 cases; more is refused before anything is done. On a terminal a progress
    bar runs, and without --yes you are asked to confirm the number of cases first.
    Exit 0 when every case was done, 4 when any was refused or failed.

    Examples:

    \b
      opsflow --as ed bulk fire approve 3f2a9c 7b1e04 --comment 'LGTM'
      opsflow --as ed bulk fire approve --workflow content_approval --state review --dry-run
      opsflow bulk fire cancel --workflow campaign --where "budget > 10000" --yes
      opsflow bulk fire submit --q 春季 --open --set kind=ad --key spring-2026 --json
    """
    from opsflow.runners import bulk as bulk_runner

    ids = [*cases, *more_cases]
    filtered = any((workflow, states, where, text_query, assignee, only_open, only_closed))
    if only_open and only_closed:
        raise click.UsageError("--open and --closed exclude each other")
    if ids and filtered:
        raise click.UsageError("name cases or give a filter, not both")
    if not ids and not filtered:
        raise click.UsageError("name the cases (CASE... or --case) or give a filter (--workflow…)")
    text = dict(split_assignments(assignments))
    ctx = app()
    engine = ctx.engine()
    actor = ctx.current_actor()
    query = None
    if filtered:
        query = bulk_runner.search_query(
            workflow=workflow,
            states=states,
            where=where,
            q=text_query,
            assignee=assignee,
            open=True if only_open else False if only_closed else None,
        )
    interactive = out.is_terminal() and not as_json
    if interactive and not yes and not dry_run and identity.stdin_is_terminal():
        count = bulk_runner.selected_count(engine, cases=ids or None, query=query, actor=actor)
        if count == 0:
            out.note("no cases match")
            return
        if count <= bulk_runner.MAX_CASES:  # more is refused below, with the count
            click.confirm(f"Fire '{out.safe(event)}' on {count:,} case(s)?", abort=True)
    with _progress(interactive) as on_progress:
        result = engine.bulk_fire(
            event,
            cases=ids or None,
            query=query,
            text=text or None,
            comment=comment,
            dry_run=dry_run,
            actor=actor,
            key=key,
            on_progress=on_progress,
        )
    if as_json:
        out.emit_json(result.to_json())
    else:
        _report(result)
    raise click.exceptions.Exit(EXIT_OK if result.all_done else Refused.exit_code)


@contextmanager
def _progress(show: bool) -> Iterator[Progress | None]:
    """A rich progress bar on stderr while the cases are fired (a terminal only)."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("firing"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("bulk", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _detail(item: BulkItem) -> str:
    """What happened to one case, in a few words (or why not)."""
    if item.status != "done":
        reasons = [r for r in item.reasons if r not in (item.message or "")]
        return "; ".join([item.message or "", *reasons])
    if item.outcome == "dry_run":
        would: dict[str, Any] = item.would or {}
        approvals = would.get("approvals")
        if approvals and would.get("to") == item.state:
            return f"would record an approval ({approvals['have']}/{approvals['need']})"
        return f"would go {item.state} -> {would.get('to')}"
    if item.outcome == "approval_recorded" and item.approvals:
        return f"approval {item.approvals[0]}/{item.approvals[1]} recorded"
    if item.outcome == "replayed":
        return "replayed (done before)"
    return f"{item.from_state} -> {item.state}" if item.from_state else str(item.state)


def summary(result: BulkResult) -> str:
    """``2 done, 1 refused, 1 not found (4 cases)``: the statuses that occurred."""
    names = {"done": "would be done"} if result.dry_run else {}
    parts = [
        f"{n} {names.get(status, status.replace('_', ' '))}"
        for status, n in result.counts.items()
        if n
    ]
    return f"{', '.join(parts) or 'nothing done'} ({result.total} case(s))"


def _report(result: BulkResult) -> None:
    if not result.items:
        out.note("no cases match")
        return
    out.table(
        ["case", "status", "state", "what happened"],
        [(i.case, i.status.replace("_", " "), i.state or "", _detail(i)) for i in result.items],
    )
    line = summary(result)
    out.echo(f"dry run: {line}; nothing was written" if result.dry_run else line)


COMMANDS = [bulk]
