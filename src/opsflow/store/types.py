"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from opsflow.clock import iso
from opsflow.jsontext import dumps, dumps_or_none, loads, loads_or_none

__all__ = ["JSONText", "UTCDateTime", "dumps", "loads"]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both backends (SQLite keeps no offset; it is restored on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # opsflow.store.prepared runs the hot statements on the driver: on SQLite these make
    # exactly the text SQLAlchemy's DateTime stores ("YYYY-MM-DD HH:MM:SS.ffffff", UTC),
    # and read it back, without its generic per-value formatting and regex parsing.
    def fast_bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return None

        return sqlite_text_or_none

    def fast_result_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return None
        slow = self.dialect_impl(dialect).result_processor(dialect, None)

        def result(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                # The stored text has no offset: parsing it with UTC's is several times
                # cheaper than parsing it naive and calling replace(tzinfo=UTC).
                return datetime.fromisoformat(value + "+00:00")
            except (TypeError, ValueError):
                pass
            try:
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            except (TypeError, ValueError):
                return slow(value) if slow is not None else value  # type: ignore[return-value]

        return result


def sqlite_text_or_none(value: datetime | None) -> str | None:
    """The text SQLAlchemy's DateTime stores on SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff', UTC."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        # Cut from the canonical text, which clock.iso keeps for the last instant: a fire
        # hashes its one ``now`` into its history entry and stores it twice.
        text = iso(value)  # "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00"
        return f"{text[:10]} {text[11:26] if value.microsecond else text[11:19] + '.000000'}"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class JSONText(TypeDecorator[Any]):
    """JSON kept as text, serialised by :func:`dumps` so both backends store identical bytes."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else loads(value)

    def fast_bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return dumps_or_none

    def fast_result_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return loads_or_none
