"""`opsflow db`: schema migrations."""

from __future__ import annotations

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option


@click.group()
def db() -> None:
    """Manage the database schema (Alembic migrations shipped with opsflow).

    A SQLite database upgrades itself on first use. A PostgreSQL database changes only
    when an admin runs 'opsflow db upgrade'; until then other commands refuse it, naming
    the schema version it is at and the one this opsflow needs.

    Examples:

    \b
      opsflow --db postgresql+psycopg://ops@db/opsflow db upgrade
      opsflow db current --json
    """


@db.command()
@click.option(
    "--adopt",
    is_flag=True,
    help="Add opsflow's tables to a database that holds other applications' tables.",
)
@json_option
def upgrade(adopt: bool, as_json: bool) -> None:
    """Apply the schema migrations this opsflow ships (one transaction; safe to repeat).

    Back up the database first (docs/operations.md). A database whose schema is newer
    than this opsflow is left alone: upgrade opsflow instead. A database with no opsflow
    schema but other tables (another application's) is refused unless you give --adopt.

    Examples:

    \b
      opsflow db upgrade
      opsflow --db postgresql+psycopg://ops@db/opsflow db upgrade --json
      opsflow --db sqlite:///shared.db db upgrade --adopt
    """
    from opsflow.engine.admin import upgrade_schema
    from opsflow.redact import redact_url

    url = app().settings().db_url
    result = upgrade_schema(url, adopt=adopt)
    if as_json:
        out.emit_json({"database": redact_url(url), **result.to_json()})
    elif result.changed:
        was = result.previous or "empty"
        out.success(f"database schema upgraded: {was} -> {result.current}")
    else:
        out.echo(f"database schema is up to date ({result.current})")


@db.command()
@json_option
def current(as_json: bool) -> None:
    """Show the database's schema version and the one this opsflow needs.

    Exits 0 when they match, 1 when the database needs 'opsflow db upgrade' (or a newer
    opsflow).

    Examples:

    \b
      opsflow db current
      opsflow db current --json
    """
    from opsflow.engine.admin import schema_status
    from opsflow.redact import redact_url

    url = app().settings().db_url
    status = schema_status(url)
    if as_json:
        out.emit_json(
            {
                "database": redact_url(url),
                "current": status.current,
                "head": status.head,
                "up_to_date": status.up_to_date,
            }
        )
    else:
        out.echo(f"{status.current or 'none'} (this opsflow needs {status.head})")
    if status.problem is not None:
        out.print_error(status.problem)
        raise click.exceptions.Exit(1)


COMMANDS: list[click.Command] = [db]
