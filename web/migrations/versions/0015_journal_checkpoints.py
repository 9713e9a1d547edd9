"""journal checkpoints: signed snapshots of every chain's head (their copy in the store rules)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journal_checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("store_key", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("timestamp_token", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_checkpoints")),
        sa.UniqueConstraint("store_key", name=op.f("uq_journal_checkpoints_store_key")),
    )
    with op.batch_alter_table("journal_checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journal_checkpoints_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("journal_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_checkpoints_at"))
    op.drop_table("journal_checkpoints")
