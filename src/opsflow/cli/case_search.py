"""``opsflow cases``: list and search cases (filters, ``--where``, ``--q``) as a table, JSON or CSV.

The search itself is the engine's (one SQL statement; see ``opsflow.engine.search``); this
command only turns options into a query, pages through the results and prints them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option
from opsflow.cli.values import LIMIT

if TYPE_CHECKING:
    from opsflow.core.results import Case

PAGE = 200  # cases asked for per page (the engine's maximum)
SORTS = ("created_at", "-created_at", "updated_at", "-updated_at", "id", "-id")
CSV_COLUMNS = ("id", "workflow", "state", "assignee", "created_at", "updated_at")
SHORT_ID = 12  # characters of an id in a terminal table (any unique prefix of 6+ is a CASE)


class Moment(click.ParamType):
    """A date (``2026-10-01``, midnight) or an ISO 8601 time; without an offset it is read
    in the project's time zone (by the engine's search)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            if len(text) == 10:
                moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"'{text[:40]}' is not a date or time (2026-10-01, 2026-10-01T09:00Z)")
        return moment


def _json_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value == "json":  # errors too are one JSON document, as with --json
        app(ctx).json_mode = True
    return value


@click.command(name="cases")
@click.option("--workflow", metavar="WORKFLOW", help="Only cases of this workflow.")
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="Only cases in this state (repeatable).",
)
@click.option("--open", "only_open", is_flag=True, help="Only open cases.")
@click.option("--closed", "only_closed", is_flag=True, help="Only closed cases.")
@click.option("--assignee", metavar="NAME", help="Only cases assigned to NAME.")
@click.option(
    "--where",
    metavar="EXPR",
    help="Compare fields, state, assignee, created_at, updated_at with literals: "
    "\"budget > 10000 and kind == 'ad'\".",
)
@click.option("--q", "text", metavar="TEXT", help="Text in the string and text fields.")
@click.option("--created-after", type=Moment(), help="Created at or after (date or ISO time).")
@click.option("--created-before", type=Moment(), help="Created before (date or ISO time).")
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="-created_at",
    show_default=True,
    help="Order; '-' is newest (or last) first.",
)
@click.option("--limit", type=LIMIT, metavar="N", help="At most N cases (default: all).")
@click.option("--cursor", metavar="CURSOR", help="Start after a previous listing's cursor.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    callback=_json_format,
    is_eager=True,
    help="table (default), json (as --json) or csv (UTF-8 with a BOM, for spreadsheets).",
)
@json_option
def list_cases(
    workflow: str | None,
    states: tuple[str, ...],
    only_open: bool,
    only_closed: bool,
    assignee: str | None,
    where: str | None,
    text: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    sort: str,
    limit: int | None,
    cursor: str | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """List and search cases, newest first.

    Examples:

    \b
      opsflow cases --open
      opsflow cases --workflow content_approval --state brand_review --state legal_review
      opsflow cases --where "budget > 10000 and kind == 'ad'" --q 发布会
      opsflow cases --where "created_at >= '2026-10-01'" --format csv > cases.csv
      opsflow cases --closed --limit 20 --json

    With --limit, a note on stderr gives the --cursor that continues the listing.
    """
    from opsflow.engine.search import SearchQuery

    if only_open and only_closed:
        raise click.UsageError("--open and --closed exclude each other")
    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json and --format exclude each other")
    query = SearchQuery(
        workflow=workflow,
        states=states,
        open=True if only_open else False if only_closed else None,
        assignee=assignee,
        created_after=created_after,
        created_before=created_before,
        q=text,
        where=where,
        sort=sort,
        cursor=cursor,
    )
    found, more = _collect(query, limit)
    if as_json or fmt == "json":
        out.emit_json([case.to_json() for case in found])
    elif fmt == "csv":
        click.echo(csv_text(found).encode("utf-8-sig"), nl=False)  # bytes: not re-encoded
    elif not found:
        out.note("no cases")
    else:
        _print_table(found)
    if more:
        out.note(f"more cases: continue with --cursor {more}")


def _collect(query: Any, limit: int | None) -> tuple[list[Case], str | None]:
    """Up to ``limit`` cases (all without it), a page at a time; and the cursor of the rest."""
    from dataclasses import replace

    engine = app().engine()
    found: list[Case] = []
    cursor = query.cursor
    while True:
        want = PAGE if limit is None else min(PAGE, limit - len(found))
        page = engine.search(replace(query, limit=want, cursor=cursor))
        for problem in page.unreadable:
            out.note(out.safe(f"warning: unreadable case left out: {problem}"))
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found, None
        if limit is not None and len(found) >= limit:
            return found, cursor


def _print_table(found: Sequence[Case]) -> None:
    short = out.is_terminal()
    out.table(
        ["id", "workflow", "state", "assignee", "title", "updated"],
        [
            (
                c.id[:SHORT_ID] if short else c.id,
                f"{c.workflow} v{c.version}",
                c.state,
                getattr(c, "assignee", None),
                c.data.get("title"),
                out.moment(c.updated_at),
            )
            for c in found
        ],
    )


def csv_text(found: Sequence[Case]) -> str:
    """The cases as CSV: the case columns, then every data field met, in order of appearance."""
    fields: dict[str, None] = {}
    for case in found:
        for name in case.data:
            fields.setdefault(name, None)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, *fields])
    for row in _csv_rows(found, list(fields)):
        writer.writerow(row)
    return buffer.getvalue()


def _csv_rows(found: Sequence[Case], fields: list[str]) -> Iterator[list[str]]:
    for case in found:
        doc = case.to_json()
        head = [_cell(doc.get(column)) for column in CSV_COLUMNS]
        yield head + [_cell(case.data.get(name)) for name in fields]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in _FORMULA:
        return "'" + value  # a spreadsheet would run "=..." as a formula (CSV injection)
    return str(value)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


__all__ = ["list_cases"]
