"""Demandes: a document lost by a withdrawn consent, as the agent sees it; tasks: each
step's queue in deadline order, for the forecast of late tasks

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BEING_WORKED = sa.text("state IN ('open', 'claimed')")


def upgrade() -> None:
    with op.batch_alter_table("demandes") as batch:
        batch.add_column(
            sa.Column("document_withdrawn_at", coffre.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_tasks_queue",
        "tasks",
        ["service_id", "procedure_version_id", "spec_id", "due_at"],
        unique=False,
        postgresql_where=BEING_WORKED,
        sqlite_where=BEING_WORKED,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_queue", table_name="tasks")
    # Not in a batch: SQLite (3.35 and later) drops the column in place. A batch would copy
    # the table, which the tasks' foreign keys to the demandes forbid once it holds rows.
    op.drop_column("demandes", "document_withdrawn_at")
