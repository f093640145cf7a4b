"""Output helpers: one JSON document for machines; rich tables on a terminal, else plain text."""

from __future__ import annotations

import dataclasses
import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import click


def is_terminal() -> bool:
    """Whether stdout is an interactive terminal (rich output) rather than a pipe or a file."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        from opsflow.clock import iso

        return iso(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(document: Any) -> str:
    """The JSON text of ``document`` (UTF-8 kept as is, dates as ISO 8601)."""
    return json.dumps(document, ensure_ascii=False, indent=2, default=_json_default)


def emit_json(document: Any) -> None:
    """Print ``document`` as the one JSON document of this command."""
    click.echo(dumps(document))


def echo(text: str = "") -> None:
    """Print a line on stdout (control characters escaped, line breaks kept)."""
    click.echo(safe(text, newlines=True))


def note(text: str) -> None:
    """Print a line for the human on stderr (progress, summaries), never on stdout."""
    click.echo(text, err=True)


_JOINERS = frozenset("\u200c\u200d")  # keep: they build emoji and Indic/Arabic words


def safe(text: str, *, newlines: bool = False) -> str:
    """``text`` fit for a terminal: control and bidi characters shown as escapes.

    Values are stored exactly as given; only what a human reads is changed, so a value
    cannot move the cursor, recolour the screen, fake an extra line or reverse the text
    that follows it. With ``newlines``, line breaks are kept (multi-line output).
    """
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch == "\n" and newlines:
            out.append(ch)
        elif ch in "\n\r\t\u2028\u2029":
            out.append(" ")
        elif ch in _JOINERS:
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf"):  # controls; bidi marks and overrides
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def show(value: Any) -> str:
    """A compact human text for one value in a table cell."""
    return safe(_show(value))


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return str(_json_default(value))
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def display_width(text: str) -> int:
    """Terminal columns taken by ``text`` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def plain_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns aligned with spaces, a header line first (what scripts and tests read)."""
    cells = [[show(c).replace("\n", " ") for c in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    lines = ["  ".join(_pad(h.upper(), widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in cells:
        lines.append("  ".join(_pad(c, widths[i]) for i, c in enumerate(row)).rstrip())
    return "\n".join(lines)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """Print a table: rich on a terminal, plain aligned text otherwise."""
    rows = list(rows)
    if is_terminal():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        rich_table = Table(title=title, title_justify="left", header_style="bold")
        for i, h in enumerate(headers):
            # A time stays on one line (not split between its minutes and its offset); the
            # other columns make room by folding long words, never by cutting them short.
            times = [display_width(c) for row in rows if isinstance(c := row[i], Moment)]
            width = max(times, default=None)
            rich_table.add_column(h, min_width=width, no_wrap=bool(times), overflow="fold")
        for row in rows:  # Text, not markup: "[...]" in a value is data, not a style
            rich_table.add_row(*(Text(show(c)) for c in row))
        Console().print(rich_table)
        return
    if title:
        click.echo(title)
    click.echo(plain_table(headers, rows))


def key_values(pairs: Iterable[tuple[str, Any]]) -> None:
    """Print ``key: value`` lines, the keys aligned."""
    pairs = list(pairs)
    width = max((display_width(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        click.echo(f"{_pad(key + ':', width + 1)} {show(value)}".rstrip())


def heading(text: str) -> None:
    """A section heading (bold on a terminal)."""
    click.echo()
    click.secho(text, bold=is_terminal())


def success(text: str) -> None:
    """A line saying something worked (green on a terminal)."""
    click.secho(text, fg="green" if is_terminal() else None)


def print_error(message: str, reasons: Sequence[str] = ()) -> None:
    """``error: MESSAGE`` then each reason on its own indented line, all on stderr."""
    click.echo(f"error: {safe(message)}", err=True)
    for reason in reasons:
        click.echo(f"  - {safe(reason)}", err=True)


class Moment(str):
    """A time as :func:`moment` shows it: a terminal table keeps it on one line."""

    __slots__ = ()


def moment(value: datetime | str | None) -> str:
    """An instant as a person reads it, on the project's clocks (``timezone:`` in
    opsflow.yaml): ``2026-01-05 17:00 +08:00``, or ``2026-01-05 09:00 UTC`` in a UTC
    project. ISO 8601 text (a stored datetime value) is read first; other text is shown
    as it is. Every time the CLI shows a person goes through here."""
    from opsflow.clock import parse_instant, shown

    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            instant = parse_instant(value)
        except ValueError:
            return safe(value)
        return Moment(shown(instant, display_zone()))
    return Moment(shown(value, display_zone()))


def display_zone() -> tzinfo:
    """The project's time zone of the running command (UTC before its settings are read)."""
    from opsflow.cli.context import AppContext

    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(AppContext) if ctx is not None else None
    settings = found.loaded_settings if found is not None else None
    return settings.zone if settings is not None else UTC


def time_left(left: timedelta, *, working: bool) -> str:
    """``2d 4h``, ``35m``, ``overdue 2h``; working time in hours (``14h 30m working``),
    since a working day's length depends on the calendar."""
    seconds = int(abs(left).total_seconds()) // 60 * 60
    days, rest = divmod(seconds, 86_400) if not working else (0, seconds)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    text = " ".join(parts[:2]) or "0m"
    if working:
        text += " working"
    return f"overdue {text}" if left < timedelta() else text
