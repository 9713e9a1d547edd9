"""Procedures: a task carries its demande's procedure version; completed tasks indexed

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 07:10:00.000000

The supervisors' dashboard counts live tasks per step and picks the late ones from the tasks
alone (no join with every demande of the town), and reads the completed tasks' working time
from a partial index. Existing tasks take their demande's version.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DONE = sa.text("state = 'done'")


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("procedure_version_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE tasks SET procedure_version_id = (SELECT demandes.procedure_version_id"
        " FROM demandes WHERE demandes.id = tasks.demande_id)"
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.alter_column("procedure_version_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_tasks_procedure_version_id_procedure_versions"),
            "procedure_versions",
            ["procedure_version_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_tasks_done",
            ["service_id", "completed_at", "worked_seconds"],
            unique=False,
            postgresql_where=DONE,
            sqlite_where=DONE,
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_done")
        batch_op.drop_constraint(
            batch_op.f("fk_tasks_procedure_version_id_procedure_versions"), type_="foreignkey"
        )
        batch_op.drop_column("procedure_version_id")
