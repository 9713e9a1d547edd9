"""Vault: exports of large vaults, prepared in the background

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 08:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_table(
        "vault_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "ready",
                "failed",
                "expired",
                name="exportstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("claimed_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("blob_key", sa.String(length=200), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("ready_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["foyer_id"],
            ["foyers.id"],
            name=op.f("fk_vault_exports_foyer_id_foyers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_exports")),
        sa.UniqueConstraint("uid", name=op.f("uq_vault_exports_uid")),
    )
    with op.batch_alter_table("vault_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vault_exports_foyer_id"), ["foyer_id"], unique=False)
        batch_op.create_index("ix_vault_exports_state", ["state", "requested_at"], unique=False)
        batch_op.create_index(
            "uq_vault_exports_pending",
            ["foyer_id"],
            unique=True,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("vault_exports", schema=None) as batch_op:
        batch_op.drop_index("uq_vault_exports_pending")
        batch_op.drop_index("ix_vault_exports_state")
        batch_op.drop_index(batch_op.f("ix_vault_exports_foyer_id"))

    op.drop_table("vault_exports")
