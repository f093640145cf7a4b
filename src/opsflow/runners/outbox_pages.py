"""The outbox one keyset page at a time, newest first, for the HTTP API's admins."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from opsflow.core.results import OutboxRow
from opsflow.errors import Usage
from opsflow.limits import storable_id
from opsflow.numbers import plain_int
from opsflow.runners.outbox import view_row
from opsflow.store import tables

if TYPE_CHECKING:
    from opsflow.engine import CaseEngine as Engine

STATUSES = ("pending", "failed", "delivered")
MAX_PAGE = 200


@dataclass(frozen=True)
class OutboxPage:
    """Notifications, newest first, and the cursor of the next page (None: the last)."""

    items: list[OutboxRow]
    next_cursor: str | None

    def to_json(self) -> dict[str, object]:
        return {"items": [r.to_json() for r in self.items], "next_cursor": self.next_cursor}


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"o{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a page ended on (Usage for a cursor this API did not give)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        number = plain_int(text[1:]) if text.startswith("o") else None
        if number is None or not storable_id(number):
            raise ValueError(text)
        return number
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Usage(
            "this outbox cursor is not one this API gave",
            ["pass next_cursor exactly as the previous page returned it"],
        ) from None


def outbox_page(
    engine: Engine, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> OutboxPage:
    """One page of notifications with ``status`` (all when None), newest (highest id) first."""
    if status is not None and status not in STATUSES:
        raise Usage(f"unknown outbox status '{status}': use {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise Usage(f"an outbox page holds 1 to {MAX_PAGE} notifications, not {limit}")
    o = tables.outbox.c
    query = select(tables.outbox).order_by(o.id.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(o.status == status)
    if cursor is not None:
        query = query.where(o.id < decode_cursor(cursor))
    with engine.db.read() as conn:
        rows = conn.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [view_row(engine, r) for r in rows]
    return OutboxPage(items, encode_cursor(rows[-1].id) if more else None)


__all__ = ["MAX_PAGE", "STATUSES", "OutboxPage", "outbox_page"]
