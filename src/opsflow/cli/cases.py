"""Commands operators use on cases: start, fire, set, status, cases, inbox, history, compute."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

import click

from opsflow.cli import output as out
from opsflow.cli.case_search import list_cases
from opsflow.cli.context import app, json_option
from opsflow.cli.values import (
    check_comment,
    check_name,
    read_data_file,
    split_assignments,
)

if TYPE_CHECKING:
    from opsflow.calendars import Calendar
    from opsflow.core.results import Case, DeadlineView, FireResult, HistoryEntry

set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Set a field; the value is parsed by the field's type (repeatable).",
)


@click.command()
@click.argument("workflow")
@set_option
@click.option(
    "--data",
    "data_file",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE.json",
    help="Field values from a JSON object (- for stdin); --set wins over it.",
)
@click.option(
    "--comment", metavar="TEXT", callback=check_comment, help="A comment kept in the history."
)
@click.option(
    "--key",
    metavar="KEY",
    callback=check_name,
    help="Idempotency key: a repeat returns the first case.",
)
@json_option
def start(
    workflow: str,
    assignments: tuple[str, ...],
    data_file: IO[str] | None,
    comment: str | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Start a case of WORKFLOW and print its id.

    Examples:

    \b
      opsflow --as ann start content_approval --set title='Spring sale' --set kind=ad
      opsflow start content_approval --data article.json --set budget=30000
      opsflow start campaign_launch --set tags=spring,promo --key launch-2026-03
      opsflow start content_approval --set title=Hello --comment 'for the spring sale' --json
    """
    ctx = app()
    text = dict(split_assignments(assignments))
    data = read_data_file(data_file)
    engine = ctx.engine()
    actor = ctx.current_actor()
    case = engine.start(workflow, data=data, actor=actor, key=key, text=text, comment=comment)
    if as_json:
        out.emit_json(case.to_json())
    else:
        out.echo(case.id)


def describe_fire(result: FireResult) -> list[str]:
    """The human lines for one fire's outcome."""
    case = result.case
    if result.outcome == "approval_recorded" and result.approvals:
        have, need = result.approvals
        return [f"approval {have}/{need} recorded"]
    if result.outcome == "replayed":
        return [f"replayed: {case.state}"]
    if result.outcome == "dry_run":
        would = result.would or {}
        target = would.get("to", case.state)
        lines = [f"dry run: {case.state} -> {target}"]
        if would.get("approvals"):
            lines[0] = f"dry run: would record an approval ({out.show(would['approvals'])})"
        lines += [f"  - {out.show(action)}" for action in would.get("actions", [])]
        lines.append("nothing was written")
        return lines
    return [case.state]


@click.command()
@click.argument("case_id", metavar="CASE")
@click.argument("event")
@set_option
@click.option(
    "--comment", metavar="TEXT", callback=check_comment, help="A comment kept in the history."
)
@click.option(
    "--key",
    metavar="KEY",
    callback=check_name,
    help="Idempotency key: a repeat returns 'replayed'.",
)
@click.option("--dry-run", is_flag=True, help="Show what would happen and write nothing.")
@json_option
def fire(
    case_id: str,
    event: str,
    assignments: tuple[str, ...],
    comment: str | None,
    key: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Fire EVENT on CASE and print the new state.

    CASE is the case id or a unique prefix of at least 6 characters. With an approval
    vote the answer is "approval 1/2 recorded" until enough approvers agree.

    Examples:

    \b
      opsflow --as ann fire 3f2a9c submit
      opsflow --as ed fire 3f2a9c approve --comment 'LGTM'
      opsflow fire 3f2a9c submit --set title='New title' --key submit-3f2a9c
      opsflow --as bea fire 3f2a9c approve --dry-run
    """
    ctx = app()
    engine = ctx.engine()
    text = dict(split_assignments(assignments))
    result = engine.fire(
        case_id,
        event,
        actor=ctx.current_actor(),
        comment=comment,
        key=key,
        dry_run=dry_run,
        text=text or None,
    )
    if as_json:
        out.emit_json(result.to_json())
        return
    for line in describe_fire(result):
        out.echo(line)


@click.command(name="set")
@click.argument("case_id", metavar="CASE")
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...")
@click.option(
    "--comment", metavar="TEXT", callback=check_comment, help="A comment kept in the history."
)
@click.option(
    "--key",
    metavar="KEY",
    callback=check_name,
    help="Idempotency key: a repeat changes nothing and shows the case.",
)
@json_option
def set_data(
    case_id: str, assignments: tuple[str, ...], comment: str | None, key: str | None, as_json: bool
) -> None:
    """Change data of CASE (audited; rules and automatic transitions run).

    Examples:

    \b
      opsflow set 3f2a9c budget=30000 claims=true
      opsflow set 3f2a9c due=2026-12-01 tags=spring,promo --comment 'per brief v2'
      opsflow set 3f2a9c budget=30000 --key budget-3f2a9c-v2
    """
    ctx = app()
    engine = ctx.engine()
    text = dict(split_assignments(assignments, option="set"))
    case = engine.set(case_id, actor=ctx.current_actor(), comment=comment, text=text, key=key)
    if as_json:
        out.emit_json(case.to_json())
    else:
        out.echo(f"{case.id} {case.state}")


def print_case(
    case: Case,
    locale: str | None = None,
    times: Collection[str] = (),
    now: datetime | None = None,
    calendars: Mapping[str, Calendar] | None = None,
) -> None:
    """The human view of one case (``status``), its workflow's title in ``locale``; the
    values of the ``times`` fields (datetime fields) on the project's clocks; with ``now``,
    each deadline's time left (working time when it counts on a calendar)."""
    from opsflow.language.text import localized

    title = localized(case.title, locale)
    out.key_values(
        [
            ("case", case.id),
            ("workflow", f"{case.workflow} v{case.version}" + (f" ({title})" if title else "")),
            ("state", case.state + (" (closed)" if case.closed else "")),
            ("assignee", case.assignee or "nobody"),
            ("since", out.moment(case.entered_at)),
            ("created", f"{out.moment(case.created_at)} by {case.created_by}"),
            ("updated", out.moment(case.updated_at)),
        ]
    )
    if case.data:
        out.heading("Data")
        out.table(
            ["field", "value"],
            [(k, shown_value(k, v, times)) for k, v in sorted(case.data.items())],
        )
    if case.metrics:
        out.heading("Metrics")
        rows = []
        for name, value in sorted(case.metrics.items()):
            detail = case.metric_details.get(name) or {}
            computed = out.moment(detail.get("computed_at"))
            rows.append((name, value, computed, detail.get("calculator")))
        out.table(["metric", "value", "computed at", "calculator"], rows)
    if case.deadlines:
        out.heading("Deadlines")
        out.table(
            ["kind", "fires", "due", "left", "status"],
            [
                (d.kind, d.event, out.moment(d.due_at), _left(d, now, calendars), d.status)
                for d in case.deadlines
            ],
        )
    if case.incidents:
        out.heading("Incidents (failed automation)")
        out.table(
            ["id", "status", "what", "tries", "error"],
            [(i.id, i.status, i.describe(), i.attempts, i.error) for i in case.incidents],
        )
        out.note("retry after fixing the cause: opsflow incidents retry ID")
    if case.events:
        out.heading("Events")
        out.table(
            ["event", "allowed", "why not"],
            [(e.event, "yes" if e.allowed else "no", "; ".join(e.reasons)) for e in case.events],
        )


@click.command()
@click.argument("case_id", metavar="CASE")
@json_option
def status(case_id: str, as_json: bool) -> None:
    """Show CASE: state, data, metrics, deadlines, and what you may fire and why not.

    Examples:

    \b
      opsflow status 3f2a9c
      opsflow --as bea status 3f2a9c        # events as bea sees them
      opsflow status 3f2a9c --json | jq .state
    """
    ctx = app()
    case = ctx.engine().status(case_id, actor=ctx.current_actor())
    if as_json:
        out.emit_json(case.to_json())
    else:
        settings = ctx.settings()
        now = ctx.engine().clock()
        print_case(case, settings.server.locale, datetime_fields(case), now, settings.calendars)


def _left(
    deadline: DeadlineView, now: datetime | None, calendars: Mapping[str, Calendar] | None
) -> str:
    """How long until ``deadline``: in working time on its calendar, if it counts on one."""
    from opsflow.core.calendar import time_left

    if now is None or deadline.status != "pending":
        return ""
    calendar = (calendars or {}).get(deadline.calendar) if deadline.calendar else None
    return out.time_left(time_left(calendar, now, deadline.due_at), working=calendar is not None)


@click.command()
@click.option("--mine", is_flag=True, help="Only the cases assigned to you.")
@json_option
def inbox(mine: bool, as_json: bool) -> None:
    """List the cases where you can fire an event now.

    Examples:

    \b
      opsflow inbox
      opsflow --as ed inbox --mine
      OPSFLOW_ACTOR=bea opsflow inbox --json
    """
    ctx = app()
    actor = ctx.current_actor()
    found = ctx.engine().inbox(actor=actor, mine=mine)
    for problem in found.unreadable:
        out.note(out.safe(f"warning: unreadable case left out: {problem}"))
    if as_json:
        out.emit_json([c.to_json() for c in found])
        return
    if not found:
        out.note(f"nothing waits for {actor}")
        return
    out.table(
        ["id", "workflow", "state", "title", "assignee", "you can fire"],
        [
            (
                c.id,
                c.workflow,
                c.state,
                c.data.get("title"),
                c.assignee,
                [e.event for e in c.events if e.allowed],
            )
            for c in found
        ],
    )


def datetime_fields(case: Case) -> frozenset[str]:
    """The names of the datetime fields of ``case``'s workflow version."""
    fields = app().engine().workflow_spec(case.workflow, case.version).fields
    return frozenset(name for name, spec in fields.items() if spec.type == "datetime")


def shown_value(name: str, value: Any, times: Collection[str]) -> Any:
    """A field's value for a person: a datetime field's on the project's clocks."""
    return out.moment(value) if name in times and isinstance(value, str) else value


def _changes(entry: HistoryEntry, times: Collection[str] = ()) -> str:
    """What an entry changed, in a line: new field values, a metric's value, a refusal."""
    detail = entry.detail or {}
    if entry.kind == "metric" and "metric" in detail:
        return f"{detail['metric']}={out.show(detail.get('value'))}"
    if entry.kind == "denied":
        return str(detail.get("reason", ""))
    if entry.kind == "migration":
        return f"version {detail.get('from_version')} -> {detail.get('to_version')}"
    if entry.kind == "assignment":
        moved = f"assignee {detail.get('from') or 'nobody'} -> {detail.get('to') or 'nobody'}"
        return moved + (f" ({detail['reason']})" if detail.get("reason") else "")
    parts = []
    for name, change in entry.data_changes.items():
        value = change["to"] if isinstance(change, dict) and "to" in change else change
        parts.append(f"{name}={out.show(shown_value(name, value, times))}")
    if entry.kind == "approval" and "approvals" in detail:
        have, need = detail["approvals"].get("have"), detail["approvals"].get("need")
        parts.insert(0, f"approval {have}/{need}")
    return ", ".join(parts)


HISTORY_HEADERS = ["seq", "at", "actor", "kind", "event", "state", "changes", "comment"]


def history_rows(
    entries: Sequence[HistoryEntry], times: Collection[str] = ()
) -> list[tuple[Any, ...]]:
    """The rows of the history table (the ``times`` fields' values on the project's clocks)."""
    rows = []
    for e in entries:
        move = e.to_state or ""
        if e.from_state and e.to_state and e.from_state != e.to_state:
            move = f"{e.from_state} -> {e.to_state}"
        rows.append(
            (
                e.seq,
                out.moment(e.at),
                e.actor,
                e.kind,
                e.event,
                move,
                _changes(e, times),
                e.comment,
            )
        )
    return rows


@click.command()
@click.argument("case_id", metavar="CASE")
@json_option
def history(case_id: str, as_json: bool) -> None:
    """Show the audit trail of CASE, oldest first.

    Examples:

    \b
      opsflow history 3f2a9c
      opsflow history 3f2a9c --json > 3f2a9c-history.json
    """
    engine = app().engine()
    entries = engine.history(case_id)
    if as_json:
        out.emit_json([e.to_json() for e in entries])
    else:  # the case is readable: its history was
        out.table(HISTORY_HEADERS, history_rows(entries, datetime_fields(engine.get(case_id))))


@click.command()
@click.argument("case_id", metavar="CASE")
@click.argument("metrics", nargs=-1, metavar="[METRIC...]")
@json_option
def compute(case_id: str, metrics: tuple[str, ...], as_json: bool) -> None:
    """Run the calculators of CASE now (all its metrics, or the ones named).

    Examples:

    \b
      opsflow compute 3f2a9c
      opsflow compute 3f2a9c engagement_rate --json
    """
    ctx = app()
    case, values = ctx.engine().compute(case_id, list(metrics) or None, actor=ctx.current_actor())
    if as_json:
        out.emit_json({"case": case.to_json(), "metrics": values})
        return
    out.table(["metric", "value"], sorted(values.items()))


COMMANDS = [start, fire, set_data, status, list_cases, inbox, history, compute]
