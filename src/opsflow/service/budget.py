"""Every request's time budget: how long its database work may take before it answers 503.

PostgreSQL cancels any statement of the service (a row lock waited for included) that runs
longer than ``OPSFLOW_REQUEST_TIMEOUT`` seconds (default 10; 0 turns it off); SQLite waits at
most ``OPSFLOW_BUSY_TIMEOUT`` seconds (default 10) for its write lock. Either way the request
answers ``503`` problem+json with ``Retry-After`` (the engine's Busy), having written nothing.
"""

from __future__ import annotations

import os

from opsflow.errors import ConfigError

DEFAULT_REQUEST_TIMEOUT_S = 10.0


def request_timeout() -> float | None:
    """Seconds a statement of a request may run (``OPSFLOW_REQUEST_TIMEOUT``; None: no limit)."""
    raw = os.environ.get("OPSFLOW_REQUEST_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_REQUEST_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:  # also refuses nan
        raise ConfigError(
            f"OPSFLOW_REQUEST_TIMEOUT must be a number of seconds from 0 to 86400, got {raw!r}"
        )
    return seconds or None


def apply(engine: object) -> None:
    """Bound the statements of ``engine``'s database by the request budget."""
    engine.db.limit_statements(request_timeout())  # type: ignore[attr-defined]
