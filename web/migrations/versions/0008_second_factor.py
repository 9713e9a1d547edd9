"""agents' second factor TOTP (issue 6): the sealed secret, its confirmation, the last step used

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 14:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("totp_secret_encrypted", sa.String(length=200), nullable=True)
        )
        batch_op.add_column(
            sa.Column("totp_confirmed_at", coffre.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_counter", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("totp_last_counter")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret_encrypted")
