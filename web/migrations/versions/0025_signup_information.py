"""Accounts: the version of the vault's information text accepted at sign-up (R.55-1)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 07:00:00.000000

Accounts created before it keep NULL: their families are asked to read and accept the
current version at their next visit (web.auth.guard).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("information_version", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column(
                "information_accepted_at", coffre.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("information_accepted_at")
        batch_op.drop_column("information_version")
