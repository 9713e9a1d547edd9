"""children's school, PAI flag ("projet d'accueil individualisé") and allergies

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 14:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("foyer_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("school", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("has_pai", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("allergies", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("foyer_members", schema=None) as batch_op:
        batch_op.drop_column("allergies")
        batch_op.drop_column("has_pai")
        batch_op.drop_column("school")
