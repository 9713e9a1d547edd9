"""the inbox index orders a tab's tasks by deadline then id, and covers the assignee

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 19:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A page of a tab is read in (due_at, id) order from each (service, state) range of this
# index, and the "not mine" condition and the counts are answered from the index alone.
NEW_COLUMNS = ["service_id", "state", "due_at", "id", "assignee_id"]
OLD_COLUMNS = ["service_id", "state", "due_at"]


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_inbox")
        batch_op.create_index("ix_tasks_inbox", NEW_COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_inbox")
        batch_op.create_index("ix_tasks_inbox", OLD_COLUMNS, unique=False)
