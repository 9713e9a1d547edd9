"""administration (issue 7): the administrative journal and per-installation document type settings

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target_type", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=60), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["accounts.id"], name=op.f("fk_admin_journal_actor_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_admin_journal_entity_id_entities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_journal")),
    )
    with op.batch_alter_table("admin_journal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_journal_at"), ["at"], unique=False)
        batch_op.create_index("ix_admin_journal_entity_id_at", ["entity_id", "at"], unique=False)
    op.create_table(
        "document_type_settings",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column(
            "validity",
            sa.Enum(
                "months",
                "end_of_next_year",
                "unlimited",
                name="validity",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("reusable", sa.Boolean(), nullable=False),
        sa.Column("formats", sa.String(length=200), nullable=False),
        sa.Column("updated_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_document_type_settings")),
    )


def downgrade() -> None:
    op.drop_table("document_type_settings")
    with op.batch_alter_table("admin_journal", schema=None) as batch_op:
        batch_op.drop_index("ix_admin_journal_entity_id_at")
        batch_op.drop_index(batch_op.f("ix_admin_journal_at"))
    op.drop_table("admin_journal")
