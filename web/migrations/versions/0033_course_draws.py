"""Sports and arts school: each allocation of a course's places (its lottery, when the course
was over-subscribed), kept whole to be replayed

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_code", sa.String(length=60), nullable=False),
        sa.Column("course", sa.String(length=60), nullable=False),
        sa.Column("season", sa.String(length=9), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("lottery", sa.Boolean(), nullable=False),
        sa.Column("published_seed", sa.String(length=200), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("drawn_order", sa.Text(), nullable=False),
        sa.Column("run_by", sa.Integer(), nullable=True),
        sa.Column("run_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_by"], ["accounts.id"], name=op.f("fk_course_draws_run_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_draws")),
        sa.UniqueConstraint(
            "procedure_code", "course", "season", "round",
            name=op.f("uq_course_draws_procedure_code"),
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("course_draws")
