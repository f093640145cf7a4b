"""Work assignment: ``opsflow assign``, ``unassign`` and ``claim``.

Each is one audited step (an ``assignment`` history entry). The rules (who may assign,
who may be assigned, when a claim is refused) live in the engine, in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option
from opsflow.cli.values import check_name

if TYPE_CHECKING:
    from opsflow.core.results import Case


def _done(case: Case, line: str, as_json: bool) -> None:
    if as_json:
        out.emit_json(case.to_json())
    else:
        out.echo(line)


@click.command()
@click.argument("case_id", metavar="CASE")
@click.argument("name", callback=check_name)
@json_option
def assign(case_id: str, name: str, as_json: bool) -> None:
    """Assign CASE to NAME, a team member holding a role of its workflow.

    The current assignee, admins and anyone who may fire an event of the case's current
    state may assign it. Leaving the state clears the assignee.

    Examples:

    \b
      opsflow --as ed assign 3f2a9c bea
      opsflow assign 3f2a9c bea --json | jq .assignee
    """
    ctx = app()
    case = ctx.engine().assign(case_id, name, actor=ctx.current_actor())
    _done(case, f"{case.id} assigned to {case.assignee}", as_json)


@click.command()
@click.argument("case_id", metavar="CASE")
@json_option
def unassign(case_id: str, as_json: bool) -> None:
    """Assign CASE to nobody (the same people as for assign may).

    Examples:

    \b
      opsflow unassign 3f2a9c
    """
    ctx = app()
    case = ctx.engine().unassign(case_id, actor=ctx.current_actor())
    _done(case, f"{case.id} assigned to nobody", as_json)


@click.command()
@click.argument("case_id", metavar="CASE")
@click.option("--force", is_flag=True, help="Take it over from its assignee (admins only).")
@json_option
def claim(case_id: str, force: bool, as_json: bool) -> None:
    """Assign CASE to yourself.

    Refused (exit 6) when someone else holds it, unless an admin gives --force (anyone
    else's --force is exit 3).

    Examples:

    \b
      opsflow --as bea claim 3f2a9c
      opsflow --as carol claim 3f2a9c --force
    """
    ctx = app()
    case = ctx.engine().claim(case_id, actor=ctx.current_actor(), force=force)
    _done(case, f"{case.id} assigned to {case.assignee}", as_json)


COMMANDS = [assign, unassign, claim]
