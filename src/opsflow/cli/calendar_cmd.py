"""``opsflow calendar NAME [--month YYYY-MM]``: a business calendar's days and hours."""

from __future__ import annotations

import re
from typing import Any

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    match = _MONTH.match(value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise click.BadParameter(f"{value!r} is not a month (YYYY-MM, e.g. 2026-02)")
    return int(match.group(1)), int(match.group(2))


@click.command("calendar")
@click.argument("name")
@click.option(
    "--month",
    metavar="YYYY-MM",
    callback=_month,
    help="The month to list [default: this month in the calendar's time zone].",
)
@json_option
def calendar(name: str, month: tuple[int, int] | None, as_json: bool) -> None:
    """List calendar NAME's days in a month: worked or not, why, and the working hours.

    Calendars are defined under `calendars:` in opsflow.yaml: a time zone, weekly
    hours, official holidays and make-up workdays (holidays: CN) and the company's own
    days off and days worked. A make-up workday has Monday's hours.

    Examples:

    \b
      opsflow calendar cn_office                    # this month
      opsflow calendar cn_office --month 2026-02    # Spring Festival
      opsflow calendar cn_office --month 2026-10 --json
    """
    from opsflow.calendars import WEEKDAYS, days
    from opsflow.clock import system_now
    from opsflow.errors import NotFound
    from opsflow.suggest import did_you_mean

    calendars = app().settings().calendars
    chosen = calendars.get(name)
    if chosen is None:
        known = ", ".join(sorted(calendars)) or "none: add them under calendars: in opsflow.yaml"
        raise NotFound(
            f"calendar {name!r} not found{did_you_mean(name, calendars)} (known: {known})"
        )
    if month is None:
        today = system_now().astimezone(chosen.zone).date()
        month = today.year, today.month
    listed = days(chosen, *month)
    worked = [d for d in listed if d.working]
    minutes = sum(s.end - s.start for d in worked for s in d.spans)
    label = f"{month[0]:04d}-{month[1]:02d}"
    if as_json:
        out.emit_json(
            {
                "calendar": name,
                "timezone": chosen.timezone,
                "month": label,
                "working_days": len(worked),
                "working_hours": minutes / 60,
                "days": [d.to_json() for d in listed],
            }
        )
        return
    title = (
        f"{name} ({chosen.timezone}), {label}: {len(worked)} working days, "
        f"{_hours(minutes)} working hours"
    )
    out.table(
        ["date", "day", "working", "why", "hours"],
        [
            (
                d.date.isoformat(),
                WEEKDAYS[d.date.weekday()].capitalize(),
                "yes" if d.working else "no",
                d.reason,
                d.hours,
            )
            for d in listed
        ],
        title=title,
    )


def _hours(minutes: int) -> str:
    return f"{minutes // 60}" if minutes % 60 == 0 else f"{minutes / 60:.1f}"


COMMANDS = [calendar]
