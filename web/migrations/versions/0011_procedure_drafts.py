"""procedure drafts edited in the designer (issue 7)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # procedure_versions.published_by exists since 0004; the draft is one row per procedure.
    op.create_table(
        "procedure_drafts",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("metadata_toml", sa.Text(), nullable=False),
        sa.Column("updated_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["accounts.id"],
            ondelete="SET NULL",
            name=op.f("fk_procedure_drafts_updated_by_accounts"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_procedure_drafts")),
    )


def downgrade() -> None:
    op.drop_table("procedure_drafts")
