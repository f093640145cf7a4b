"""The inbox's index: each (workflow, state)'s cases, newest change first.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05

A person's inbox reads, for each (workflow, state) where their roles let them act, the
newest changed cases a page at a time (``opsflow.engine.inbox``). ``(workflow, state,
updated_at, id)`` gives each of those reads in order, a page deep, whatever the number of
cases; without it a state's cases were sorted whole, or every open case walked. It also
serves every lookup the old ``(workflow, state)`` index served, so that one goes.

(0007 is kept for the search's revision; when it lands, this one revises it instead.)
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the inbox's index; drop the one it replaces."""
    op.create_index(
        "ix_cases_inbox", "cases", ["workflow", "state", "updated_at", "id"], unique=False
    )
    op.drop_index("ix_cases_workflow_state", table_name="cases")


def downgrade() -> None:
    """Back to the 0006 indexes."""
    op.create_index("ix_cases_workflow_state", "cases", ["workflow", "state"], unique=False)
    op.drop_index("ix_cases_inbox", table_name="cases")
