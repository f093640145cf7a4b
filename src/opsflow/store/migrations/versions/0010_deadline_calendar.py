"""The business calendar a deadline's due time was counted on.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

A deadline counted on a business calendar (working hours, public holidays) is due at a
time computed when it was armed. Its row now names that calendar, so whoever shows it can
say how much *working* time is left without reading the workflow definition again. Rows
armed before this revision, and those counted on the wall clock, hold NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``deadlines.calendar``."""
    with op.batch_alter_table("deadlines") as batch:
        batch.add_column(sa.Column("calendar", sa.String(length=100), nullable=True))


def downgrade() -> None:
    """Drop ``deadlines.calendar``."""
    with op.batch_alter_table("deadlines") as batch:
        batch.drop_column("calendar")
