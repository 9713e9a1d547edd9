"""counter codes confirmation: services running the counter, code issuers, join requests

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No service runs the counter after the upgrade: an administrator marks the town's own.
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("runs_counter", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("family_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_family_codes_issued_by_accounts"),
            "accounts",
            ["issued_by"],
            ["id"],
            ondelete="SET NULL",
        )
    _create_join_requests()


def _create_join_requests() -> None:
    op.create_table(
        "join_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("family_code_id", sa.Integer(), nullable=True),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            ondelete="CASCADE",
            name=op.f("fk_join_requests_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["foyer_id"],
            ["foyers.id"],
            ondelete="CASCADE",
            name=op.f("fk_join_requests_foyer_id_foyers"),
        ),
        sa.ForeignKeyConstraint(
            ["family_code_id"],
            ["family_codes.id"],
            ondelete="SET NULL",
            name=op.f("fk_join_requests_family_code_id_family_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["accounts.id"],
            ondelete="SET NULL",
            name=op.f("fk_join_requests_decided_by_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_requests")),
        sa.UniqueConstraint("account_id", name=op.f("uq_join_requests_account_id")),
    )
    with op.batch_alter_table("join_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_join_requests_foyer_id"), ["foyer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("join_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_join_requests_foyer_id"))
    op.drop_table("join_requests")
    with op.batch_alter_table("family_codes", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_family_codes_issued_by_accounts"), type_="foreignkey"
        )
        batch_op.drop_column("issued_by")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("runs_counter")
