"""Turns of automatic round-robin assignment, one row per (workflow, state).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

A state with ``assign: {role: ..., policy: round_robin}`` gives each case that enters it
to the next holder of the role after the one who got the previous case. The last one is
kept here; a step locks the row while it picks, so concurrent starts take turns.
(``least_open`` counts open cases with the existing ``ix_cases_assignee`` index.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create assign_turns."""
    op.create_table(
        "assign_turns",
        sa.Column("workflow", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("last_assignee", sa.String(length=200), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow", "state"),
    )


def downgrade() -> None:
    """Drop assign_turns."""
    op.drop_table("assign_turns")
