"""Which database URLs opsflow accepts, checked before SQLAlchemy sees them."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from opsflow.errors import ConfigError

SUPPORTED = {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}
SQLITE_QUERY_KEYS = {"mode", "uri", "cache", "immutable", "nolock", "vfs"}


def checked_url(url: str, shown: str) -> URL:
    """The parsed URL, or ConfigError with one plain line (``shown`` hides the password)."""
    try:
        parsed = make_url(url)
        port = parsed.port  # a non-numeric port fails here, not deep inside a driver
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"invalid database URL {shown!r}: {exc}") from None
    name = parsed.drivername
    if name not in SUPPORTED:
        raise ConfigError(
            f"unsupported database URL {shown!r}: opsflow runs on SQLite "
            "(sqlite:///PATH) and PostgreSQL (postgresql+psycopg://USER@HOST/DB)"
        )
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"invalid database URL {shown!r}: port {port} is out of range")
    if name.startswith("sqlite"):
        unknown = sorted(set(parsed.query) - SQLITE_QUERY_KEYS)
        if unknown:
            raise ConfigError(
                f"invalid database URL {shown!r}: SQLite takes no option "
                + ", ".join(repr(k) for k in unknown)
            )
    return parsed
