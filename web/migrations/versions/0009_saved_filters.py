"""saved filters: an agent's named inbox filters (issue 6)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 14:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name=op.f("fk_saved_filters_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
    )
    with op.batch_alter_table("saved_filters", schema=None) as batch_op:
        batch_op.create_index(
            "uq_saved_filters_account_id_name", ["account_id", "name"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("saved_filters", schema=None) as batch_op:
        batch_op.drop_index("uq_saved_filters_account_id_name")
    op.drop_table("saved_filters")
