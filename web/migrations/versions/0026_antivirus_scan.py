"""Vault: each document's antivirus scan state

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 07:00:00.000000

Documents deposited before it were never scanned: they read `not_scanned`, as those deposited
while no scanner is configured, and stay open to the agents they are granted to.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("scan_state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "scan_state",
                sa.Enum(
                    "pending",
                    "clean",
                    "infected",
                    "not_scanned",
                    name="scanstate",
                    native_enum=False,
                    length=20,
                ),
                server_default="not_scanned",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("scanned_at", coffre.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_documents_scan_pending",
            ["scanned_at", "id"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_scan_pending")
        batch_op.drop_column("scanned_at")
        batch_op.drop_column("scan_state")
