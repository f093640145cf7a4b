"""Incidents: automation that failed, retried with backoff, then kept for a person to act on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the incidents table and its two indexes."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=100), nullable=True),
        sa.Column("visit", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=100), nullable=True),
        sa.Column("deadline_id", sa.Integer(), nullable=True),
        sa.Column("tick", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_due", "incidents", ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_incidents_case", "incidents", ["case_id", "status"], unique=False)


def downgrade() -> None:
    """Drop the incidents table."""
    op.drop_index("ix_incidents_case", table_name="incidents")
    op.drop_index("ix_incidents_due", table_name="incidents")
    op.drop_table("incidents")
