"""Procedures: a task's working time stored when it is completed, for supervision

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 01:55:00.000000

Tasks completed before it keep NULL: the dashboard measures those as before, and they leave
its window (52 weeks at most) in time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worked_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("worked_seconds")
