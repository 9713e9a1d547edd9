"""bookings take in accepted demandes: enrolments from a registration, reported absences;
activities' age conditions

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 16:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_age", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_age", sa.Integer(), nullable=True))
    with op.batch_alter_table("activity_enrolments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("demande_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_activity_enrolments_demande_id"), ["demande_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_activity_enrolments_demande_id_demandes", "demandes", ["demande_id"], ["id"]
        )
    op.create_table(
        "reported_absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("justified", sa.Boolean(), nullable=False),
        sa.Column("demande_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["demande_id"], ["demandes.id"]),
        sa.ForeignKeyConstraint(["foyer_id"], ["foyers.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["foyer_members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("demande_id"),
    )
    with op.batch_alter_table("reported_absences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reported_absences_foyer_id"), ["foyer_id"], unique=False
        )
        batch_op.create_index(
            "ix_reported_absences_member", ["member_id", "first_day"], unique=False
        )
    op.create_table(
        "applied_demandes",
        sa.Column("demande_id", sa.Integer(), nullable=False),
        sa.Column("applied_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(["demande_id"], ["demandes.id"]),
        sa.PrimaryKeyConstraint("demande_id"),
    )


def downgrade() -> None:
    op.drop_table("applied_demandes")
    with op.batch_alter_table("reported_absences", schema=None) as batch_op:
        batch_op.drop_index("ix_reported_absences_member")
        batch_op.drop_index(batch_op.f("ix_reported_absences_foyer_id"))
    op.drop_table("reported_absences")
    with op.batch_alter_table("activity_enrolments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_activity_enrolments_demande_id_demandes", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_activity_enrolments_demande_id"))
        batch_op.drop_column("demande_id")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("max_age")
        batch_op.drop_column("min_age")
