"""Individualised care plans (PAI): the school a service's team works at, and the documents
shared from a demande with the canteen and after-school teams of the child's school

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("school", sa.String(length=200), nullable=True))
    op.create_table(
        "team_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("demande_id", sa.Integer(), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("shared_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("ended_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_team_shares_demande_id", "team_shares", ["demande_id"])
    op.create_index("ix_team_shares_foyer_id", "team_shares", ["foyer_id"])
    op.create_index("ix_team_shares_service_document", "team_shares", ["service_id", "document_id"])


def downgrade() -> None:
    op.drop_index("ix_team_shares_service_document", table_name="team_shares")
    op.drop_index("ix_team_shares_foyer_id", table_name="team_shares")
    op.drop_index("ix_team_shares_demande_id", table_name="team_shares")
    op.drop_table("team_shares")
    # Not in a batch: a batch would copy the services table, which others reference.
    op.drop_column("services", "school")
