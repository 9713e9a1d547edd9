"""family codes: the town's family code and one-time code that activate an account

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 13:25:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "family_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("one_time_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["foyer_id"],
            ["foyers.id"],
            ondelete="CASCADE",
            name=op.f("fk_family_codes_foyer_id_foyers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_family_codes_code")),
    )
    with op.batch_alter_table("family_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_codes_foyer_id"), ["foyer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("family_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_codes_foyer_id"))
    op.drop_table("family_codes")
