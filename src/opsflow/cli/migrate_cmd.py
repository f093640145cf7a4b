"""`opsflow migrate`: move open cases to another definition version."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option

if TYPE_CHECKING:
    from opsflow.runners.migrate import MigrationReport


def parse_maps(maps: tuple[str, ...]) -> dict[str, str]:
    """``OLD=NEW`` pairs as a dict; a malformed or repeated OLD is a usage error."""
    mapping: dict[str, str] = {}
    for item in maps:
        old, sep, new = item.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise click.BadParameter(f"'{item}' is not OLD=NEW", param_hint="'--map'")
        if old in mapping and mapping[old] != new:
            raise click.BadParameter(
                f"state '{old}' is mapped twice ({mapping[old]}, {new})", param_hint="'--map'"
            )
        mapping[old] = new
    return mapping


def print_report(report: MigrationReport) -> None:
    """The moved (or refused) cases as a table, a summary line, warnings on stderr."""
    for warning in report.warnings:
        out.note(f"warning: {warning}")
    if report.refused:
        out.table(
            ["case", "state", "reason"], [(r.case, r.state, r.reason) for r in report.refused]
        )
        return
    if report.moved:
        out.table(
            ["case", "from version", "from state", "to state"],
            [(m.case, m.from_version, m.from_state, m.to_state) for m in report.moved],
        )
    verb = "would move" if report.dry_run else "moved"
    out.success(
        f"{verb} {len(report.moved)} open case(s) of {report.workflow} "
        f"to version {report.to_version}"
        + (" (dry run: nothing written)" if report.dry_run else "")
    )


@click.command()
@click.argument("workflow")
@click.option(
    "--to",
    "to_version",
    required=True,
    type=click.IntRange(min=1),
    metavar="VERSION",
    help="The version to move the cases to (registered, or the current file's).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="OLD=NEW",
    help="Move cases in state OLD to state NEW of the target version (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Check and show what would move; write nothing.")
@json_option
def migrate(
    workflow: str, to_version: int, maps: tuple[str, ...], dry_run: bool, as_json: bool
) -> None:
    """Move the open cases of WORKFLOW to definition VERSION.

    Cases keep the version they started on until they are migrated. Every open case
    on another version moves, or none does: a case whose state the target version
    lacks (and no --map covers), whose data is invalid there, or that misses a field
    the target requires is refused, named with the reason, and nothing is written
    (exit 4). Each moved case gets one 'migration' entry in its history; its
    approvals are cleared and its deadlines re-armed from the target's definition.
    Fields the target does not declare stay in the case's data (a warning says so).

    Examples:

    \b
      opsflow migrate content_approval --to 4 --dry-run
      opsflow migrate content_approval --to 4 --map legal_review=compliance_review
      opsflow --as ops_lead migrate expense --to 2 --json
    """
    from opsflow.cli.errors import fail
    from opsflow.errors import MigrationRefused

    ctx = app()
    mapping = parse_maps(maps)
    engine = ctx.engine()
    try:
        report = engine.migrate(
            workflow, to_version, mapping, actor=ctx.current_actor(), dry_run=dry_run
        )
    except MigrationRefused as refusal:
        if as_json:
            out.emit_json({**refusal.report.to_json(), **refusal.to_json()})
            out.print_error(refusal.message, refusal.reasons)
            raise click.exceptions.Exit(refusal.exit_code) from None
        print_report(refusal.report)
        fail(refusal, json_mode=False, debug=ctx.debug)
    if as_json:
        out.emit_json(report.to_json())
        return
    print_report(report)


COMMANDS: list[click.Command] = [migrate]
