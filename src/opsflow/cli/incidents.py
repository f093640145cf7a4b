"""``opsflow incidents``: automation that failed, and retrying or resolving it."""

from __future__ import annotations

from typing import Any

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option
from opsflow.cli.values import LIMIT, ROW_ID


@click.group(invoke_without_command=True)
@click.option("--all", "everything", is_flag=True, help="Also recovered, resolved, cancelled.")
@click.option("--case", "case_id", metavar="CASE", help="Only this case's incidents.")
@click.option("--limit", type=LIMIT, default=50, show_default=True, metavar="N")
@json_option
@click.pass_context
def incidents(
    ctx: click.Context, everything: bool, case_id: str | None, limit: int, as_json: bool
) -> None:
    """List failed automation: timers, SLAs, schedule ticks, automatic steps.

    When a timer's event is refused, a calculator's source is missing or a plugin
    raises, opsflow keeps the work with its error and the worker tries it again with
    growing pauses (status retrying). After the last try the incident is open until
    someone fixes the cause and retries it, or resolves it with a comment. Nothing
    failed is ever dropped silently.

    Examples:

    \b
      opsflow incidents                     # retrying and open ones
      opsflow incidents --all --json
      opsflow incidents retry 7             # after fixing the cause
      opsflow incidents resolve 7 --comment "published by hand"
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = app().engine().incidents(everything=everything, case_id=case_id, limit=limit)
    if as_json:
        out.emit_json([r.to_json() for r in rows])
        return
    if not rows:
        out.note("no incidents" if everything else "no open incidents: all automation ran")
        return
    out.table(
        ["id", "status", "case", "what", "tries", "next try", "error"],
        [
            (
                r.id,
                r.status,
                (r.case_id or r.workflow)[:10],
                r.describe(),
                r.attempts,
                out.moment(r.next_attempt_at) if r.next_attempt_at else "",
                r.error,
            )
            for r in rows
        ],
    )


@incidents.command("retry")
@click.argument("incident_id", metavar="ID", type=ROW_ID)
@json_option
def incidents_retry(incident_id: int, as_json: bool) -> None:
    """Run incident ID's automation again now (after fixing its cause).

    Exits 0 when it ran, 1 when it failed again (the incident stays, with the new
    error), 4 when the incident is already closed and 5 when there is none.

    Examples:

    \b
      opsflow incidents                     # find the id
      opsflow incidents retry 7
    """
    engine = app().engine()
    incident, error = engine.retry_incident(incident_id, actor=app().current_actor())
    _report(incident, as_json, error)
    if error is not None:
        raise click.exceptions.Exit(1)


@incidents.command("resolve")
@click.argument("incident_id", metavar="ID", type=ROW_ID)
@click.option("--comment", required=True, help="Why it is closed (kept in the history).")
@json_option
def incidents_resolve(incident_id: int, comment: str, as_json: bool) -> None:
    """Close incident ID by hand, with a comment; its automation is not run again.

    For when the work was done another way, or is no longer wanted. The comment and
    who resolved it are recorded in the incident and in the case's history.

    Examples:

    \b
      opsflow incidents resolve 7 --comment "published by hand on the website"
    """
    engine = app().engine()
    _report(
        engine.resolve_incident(incident_id, comment, actor=app().current_actor()), as_json, None
    )


def _report(incident: Any, as_json: bool, error: str | None) -> None:
    if as_json:
        out.emit_json({**incident.to_json(), "retry_error": error})
        return
    if error is not None:
        out.print_error(f"incident {incident.id} failed again: {error}")
        out.note(f"it is {incident.status} after {incident.attempts} tries")
        return
    out.success(f"incident {incident.id} {incident.status}: {incident.describe()}")


COMMANDS = [incidents]
