"""Vault: what a document's 2D-Doc says, and whether its signature verified

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 07:10:00.000000

Documents deposited before it read `pending`: the worker reads their 2D-Doc too, newest
first, so that a new deposit never waits behind the older ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("two_d_doc_state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "two_d_doc_state",
                sa.Enum(
                    "pending",
                    "none",
                    "valid",
                    "invalid",
                    name="twoddocstate",
                    native_enum=False,
                    length=20,
                ),
                server_default="pending",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("two_d_doc_fields", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_documents_two_d_doc_pending",
            ["id"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_two_d_doc_pending")
        batch_op.drop_column("two_d_doc_fields")
        batch_op.drop_column("two_d_doc_state")
