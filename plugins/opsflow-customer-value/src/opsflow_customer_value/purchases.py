"""Reading a purchases source (CSV or JSON lines) with the standard library.

A source is configured in the project's ``opsflow.yaml``::

    sources:
      orders: {path: data/orders.csv, columns: {customer_id: buyer, amount: total}}

Columns: ``customer_id``, ``amount`` (the order's revenue) and ``date`` (``YYYY-MM-DD`` or
an ISO 8601 timestamp, its UTC calendar day counts). ``columns`` maps these names to the
file's own column names.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from opsflow_customer_value.values import ParamError, to_decimal

COLUMNS = ("customer_id", "amount", "date")


class SourceError(ValueError):
    """A purchases source that is missing, unreadable or malformed (names the source)."""


@dataclass(frozen=True)
class Purchase:
    """One order."""

    customer_id: str
    amount: Decimal
    day: date


def parse_day(text: Any) -> date:
    """A ``YYYY-MM-DD`` date or an ISO 8601 timestamp's UTC calendar day."""
    if isinstance(text, datetime):
        moment = text
    elif isinstance(text, date):
        return text
    else:
        value = str(text).strip()
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def source_path(name: str, sources: Mapping[str, Mapping[str, Any]], base_dir: Path) -> Path:
    """The file of the named source (relative paths are taken from the project directory)."""
    source = sources.get(name)
    if source is None:
        known = ", ".join(sorted(sources)) or "none"
        raise SourceError(f"source '{name}' is not configured (sources: {known})")
    raw = source.get("path")
    if not raw:
        raise SourceError(f"source '{name}': only file sources (path: ...) are supported")
    path = Path(str(raw)).expanduser()
    return path if path.is_absolute() else base_dir / path


def read_purchases(
    name: str, sources: Mapping[str, Mapping[str, Any]], base_dir: Path
) -> Iterator[Purchase]:
    """Every purchase in the named source; errors name the source, the line and the column."""
    source = sources.get(name) or {}
    renames = source.get("columns") or {}
    if not isinstance(renames, Mapping):
        raise SourceError(f"source '{name}': columns must be a mapping")
    columns = {column: str(renames.get(column, column)) for column in COLUMNS}
    path = source_path(name, sources, base_dir)
    try:
        handle = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SourceError(f"source '{name}': cannot read {path}: {exc.strerror}") from None
    with handle:
        rows = _json_lines(handle) if path.suffix in (".jsonl", ".ndjson") else _csv(handle)
        for line, row in rows:
            yield _purchase(name, line, row, columns)


def _csv(handle: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.DictReader(handle)
    for row in reader:
        yield reader.line_num, row


def _json_lines(handle: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for number, text in enumerate(handle, start=1):
        if text.strip():
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, {"__error__": exc.msg}


def _purchase(name: str, line: int, row: Mapping[str, Any], columns: dict[str, str]) -> Purchase:
    where = f"source '{name}' line {line}"
    if "__error__" in row:
        raise SourceError(f"{where}: not JSON: {row['__error__']}")
    missing = [column for column in columns.values() if row.get(column) in (None, "")]
    if missing:
        raise SourceError(f"{where}: no value in column(s) {', '.join(missing)}")
    try:
        amount = to_decimal(f"column '{columns['amount']}'", row[columns["amount"]])
    except ParamError as exc:
        raise SourceError(f"{where}: {exc}") from None
    try:
        day = parse_day(row[columns["date"]])
    except ValueError:
        raise SourceError(
            f"{where}: column '{columns['date']}' has {row[columns['date']]!r}, not a date"
        ) from None
    assert amount is not None  # missing values were refused above
    return Purchase(str(row[columns["customer_id"]]), amount, day)
