"""foyer quotient: the family quotient and bracket validated by an agent

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:46:23.131623
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("foyers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quotient_familial", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tranche_qf", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("qf_valid_until", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("qf_set_at", coffre.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("foyers", schema=None) as batch_op:
        batch_op.drop_column("qf_set_at")
        batch_op.drop_column("qf_valid_until")
        batch_op.drop_column("tranche_qf")
        batch_op.drop_column("quotient_familial")
