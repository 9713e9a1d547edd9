"""Accounts: versions of the information before sign-up published by an administrator (R.55-1)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 10:00:00.000000

Version 1 stays a page of the templates; the versions an administrator publishes from the
administration follow it here, in Markdown, each written once and never changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "information_versions",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["accounts.id"],
            name=op.f("fk_information_versions_published_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_information_versions")),
    )


def downgrade() -> None:
    op.drop_table("information_versions")
