"""``index: true`` fields (SPEC §7.4): an expression index on ``cases``, made at registration.

The index is on exactly the guarded expression search compares
(:func:`opsflow.engine.where_sql.field_sql`), so a ``where`` on the field is an index
range scan; ``created_at``, ``id`` and ``workflow`` follow it, so a page of matches newest
first, of one workflow or all, is chosen from the index alone without reading a case (an
equality on the field even reads them in order). Those columns never change once a case
is written, so the index costs a fire nothing unless the field itself changes.

One index per field name and kind, over every workflow's cases (not partial per
workflow): a search without ``workflow`` uses it too, and cases of workflows without the
field hold a NULL entry. ``CREATE INDEX IF NOT EXISTS`` runs in the transaction that
registers the version, after its definitions row is written (a racing registration of the
same version fails on that row first and is retried).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.engine import Connection

from opsflow.engine.where_sql import KIND_OF_TYPE, field_sql
from opsflow.language.models import WorkflowSpec

MAX_NAME = 63  # PostgreSQL's identifier length


def index_name(field: str, kind: str) -> str:
    """The stable name of a field's index: readable, or hashed past 63 characters."""
    name = f"ix_cases_f_{field}_{kind}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(f"{field}:{kind}".encode()).hexdigest()[:16]
    return f"ix_cases_f_{field[:30]}_{digest}"


def index_statements(dialect: str, spec: WorkflowSpec) -> list[str]:
    """``CREATE INDEX IF NOT EXISTS`` for each ``index: true`` field of ``spec``."""
    statements = []
    for field, field_spec in sorted(spec.fields.items()):
        kind = KIND_OF_TYPE.get(field_spec.type)
        if not field_spec.index or kind is None:
            continue
        expression = field_sql(dialect, kind, field)
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {index_name(field, kind)} "
            f"ON cases (({expression}), created_at, id, workflow)"
        )
    return statements


def create_indexes(conn: Connection, spec: WorkflowSpec) -> None:
    """Make the indexes of ``spec``'s ``index: true`` fields (those missing)."""
    for statement in index_statements(conn.dialect.name, spec):
        conn.execute(text(statement))


__all__ = ["create_indexes", "index_name", "index_statements"]
