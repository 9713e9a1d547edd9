"""Procedures: diagram timers wake demandes; DMN decision tables versioned with diagrams

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 21:56:34.657909
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("demandes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wakes_at", coffre.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_demandes_wakes_at"), ["wakes_at"], unique=False)

    with op.batch_alter_table("procedure_drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dmn_xml", sa.Text(), server_default="", nullable=False))

    with op.batch_alter_table("procedure_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dmn_xml", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("procedure_versions", schema=None) as batch_op:
        batch_op.drop_column("dmn_xml")

    with op.batch_alter_table("procedure_drafts", schema=None) as batch_op:
        batch_op.drop_column("dmn_xml")

    with op.batch_alter_table("demandes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_demandes_wakes_at"))
        batch_op.drop_column("wakes_at")
