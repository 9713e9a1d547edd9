"""Targeted news: messages to families chosen by criteria

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "news",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(length=500), nullable=False),
        sa.Column("sent_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("foyers_count", sa.Integer(), nullable=False),
        sa.Column("mailed_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["accounts.id"], name=op.f("fk_news_author_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_news_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news")),
    )  # fmt: skip
    with op.batch_alter_table("news", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_news_service_id"), ["service_id"], unique=False)
    op.create_table(
        "news_recipients",
        sa.Column("news_id", sa.Integer(), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("mailed_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("read_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["foyer_id"], ["foyers.id"], name=op.f("fk_news_recipients_foyer_id_foyers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["news_id"], ["news.id"], name=op.f("fk_news_recipients_news_id_news"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("news_id", "foyer_id", name=op.f("pk_news_recipients")),
    )  # fmt: skip
    with op.batch_alter_table("news_recipients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_news_recipients_foyer_id"), ["foyer_id"], unique=False)
        batch_op.create_index(
            "ix_news_recipients_mailing", ["mailed_at", "news_id", "foyer_id"], unique=False
        )
    op.create_table(
        "news_opt_outs",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_news_opt_outs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_news_opt_outs")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("news_opt_outs")
    with op.batch_alter_table("news_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_news_recipients_mailing")
        batch_op.drop_index(batch_op.f("ix_news_recipients_foyer_id"))
    op.drop_table("news_recipients")
    with op.batch_alter_table("news", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_news_service_id"))
    op.drop_table("news")
