"""Indexes for large databases: cases listed by state (or all), newest first.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

``opsflow cases --state S --limit N`` reads the newest N cases of S straight from
``(state, created_at)`` instead of sorting every case in S; ``opsflow cases --limit N``
does the same from ``(created_at)``. ``(state, created_at)`` also serves every lookup the
old single-column ``ix_cases_state`` served, so that one goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the listing indexes; drop the one they replace."""
    op.create_index("ix_cases_state_created", "cases", ["state", "created_at"], unique=False)
    op.create_index("ix_cases_created", "cases", ["created_at"], unique=False)
    op.drop_index("ix_cases_state", table_name="cases")


def downgrade() -> None:
    """Back to the 0001 indexes."""
    op.create_index("ix_cases_state", "cases", ["state"], unique=False)
    op.drop_index("ix_cases_created", table_name="cases")
    op.drop_index("ix_cases_state_created", table_name="cases")
