"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def dumps(value: Any) -> str:
    """Compact JSON text as opsflow stores it (UTF-8 kept, keys sorted for stable hashes)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


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

        def bind(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return bind

    def fast_result_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return None
        slow = self.dialect_impl(dialect).result_processor(dialect, None)

        def result(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            except (TypeError, ValueError):
                return slow(value) if slow is not None else value  # type: ignore[return-value]

        return result


class JSONText(TypeDecorator[Any]):
    """JSON kept as text, serialised by :func:`dumps` so both backends store identical bytes."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)

    def fast_bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return _dumps_or_none

    def fast_result_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return _loads_or_none


def _dumps_or_none(value: Any) -> str | None:
    return None if value is None else dumps(value)


def _loads_or_none(value: str | None) -> Any:
    return None if value is None else json.loads(value)
