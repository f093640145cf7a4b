"""``--key`` (and ``Idempotency-Key``): a start, fire or data change happens at most once;
a repeat returns the first result, and the same key with other input is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from opsflow.errors import KeyReused, Usage
from opsflow.store import tables
from opsflow.store.types import dumps

MAX_KEY = 200


def request_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(dumps(dict(payload)).encode()).hexdigest()


def first_result(
    conn: Connection, key: str | None, operation: str, request: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """The first result of ``key`` (case id, response); refuse a reuse with other input."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY:
        raise Usage(f"an idempotency key is 1 to {MAX_KEY} characters")
    row = conn.execute(
        select(tables.idempotency_keys).where(tables.idempotency_keys.c.key == key)
    ).first()
    if row is None:
        return None
    if row.operation != operation or row.request_hash != request_hash(request):
        raise KeyReused(
            f"idempotency key '{key}' was already used with different input",
            [f"first used for a {row.operation} on case {row.case_id}"],
        )
    return row.case_id, dict(row.response or {})


def remember(
    conn: Connection,
    key: str | None,
    operation: str,
    request: Mapping[str, Any],
    case_id: str,
    response: dict[str, Any],
    now: datetime,
) -> None:
    """Store the result of a keyed start or fire in the step's own transaction."""
    if key is None:
        return
    conn.execute(
        insert(tables.idempotency_keys),
        [
            {
                "key": key,
                "operation": operation,
                "request_hash": request_hash(request),
                "case_id": case_id,
                "response": response,
                "created_at": now,
            }
        ],
    )


def stored_response(conn: Connection, key: str) -> dict[str, Any] | None:
    """What a keyed write answered the first time (``body``, ``etag``), if it kept that."""
    row = conn.execute(
        select(tables.idempotency_keys.c.response).where(tables.idempotency_keys.c.key == key)
    ).first()
    return None if row is None else dict(row.response or {})
