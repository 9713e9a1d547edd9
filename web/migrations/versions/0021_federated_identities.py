"""FranceConnect: the identities linked to family accounts

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 19:44:52.148813
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federated_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_federated_identities_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_identities")),
        sa.UniqueConstraint("provider", "account_id", name="uq_federated_identities_account"),
        sa.UniqueConstraint("provider", "subject", name="uq_federated_identities_subject"),
    )


def downgrade() -> None:
    op.drop_table("federated_identities")
