"""reservations: activities, sessions, enrolments, bookings, attendance, shared custody

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cantine",
                "periscolaire_matin",
                "periscolaire_soir",
                "mercredi",
                "vacances",
                name="activitykind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column(
            "cutoff_rule",
            sa.Enum(
                "jours_ouvres",
                "semaine_precedente",
                "jours_calendaires",
                name="cutoffrule",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("cutoff_count", sa.Integer(), nullable=False),
        sa.Column("cutoff_time", sa.Time(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("offer_hours", sa.Integer(), server_default=sa.text("48"), nullable=False),
        sa.Column(
            "bills_unjustified_absence", sa.Boolean(), server_default=sa.true(), nullable=False
        ),
        sa.Column("price_category", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_activities_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("code", name=op.f("uq_activities_code")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activities_service_id"), ["service_id"], unique=False)

    op.create_table(
        "shared_custodies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_member_id", sa.Integer(), nullable=False),
        sa.Column("second_member_id", sa.Integer(), nullable=False),
        sa.Column("first_monday", sa.Date(), nullable=False),
        sa.Column("updated_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_member_id"],
            ["foyer_members.id"],
            name=op.f("fk_shared_custodies_first_member_id_foyer_members"),
        ),
        sa.ForeignKeyConstraint(
            ["second_member_id"],
            ["foyer_members.id"],
            name=op.f("fk_shared_custodies_second_member_id_foyer_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_custodies")),
        sa.UniqueConstraint("first_member_id", name=op.f("uq_shared_custodies_first_member_id")),
        sa.UniqueConstraint("second_member_id", name=op.f("uq_shared_custodies_second_member_id")),
    )
    op.create_table(
        "activity_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_enrolments_activity_id_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["foyer_id"], ["foyers.id"], name=op.f("fk_activity_enrolments_foyer_id_foyers")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["foyer_members.id"],
            name=op.f("fk_activity_enrolments_member_id_foyer_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_enrolments")),
    )
    with op.batch_alter_table("activity_enrolments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_enrolments_foyer_id"), ["foyer_id"], unique=False
        )
        batch_op.create_index(
            "ix_activity_enrolments_member", ["member_id", "activity_id"], unique=False
        )

    op.create_table(
        "activity_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("taken", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("closed_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_sessions_activity_id_activities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_sessions")),
        sa.UniqueConstraint("activity_id", "day", name=op.f("uq_activity_sessions_activity_id")),
    )
    with op.batch_alter_table("activity_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_sessions_day"), ["day"], unique=False)

    op.create_table(
        "attendance_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_attendance_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["foyer_members.id"],
            name=op.f("fk_attendance_events_member_id_foyer_members"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["activity_sessions.id"],
            name=op.f("fk_attendance_events_session_id_activity_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_events")),
    )
    with op.batch_alter_table("attendance_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendance_events_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "attendance_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_attendance_marks_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["foyer_members.id"],
            name=op.f("fk_attendance_marks_member_id_foyer_members"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["activity_sessions.id"],
            name=op.f("fk_attendance_marks_session_id_activity_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_marks")),
        sa.UniqueConstraint("session_id", "member_id", name=op.f("uq_attendance_marks_session_id")),
    )
    with op.batch_alter_table("attendance_marks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendance_marks_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "attendance_sheets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_attendance_sheets_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["activity_sessions.id"],
            name=op.f("fk_attendance_sheets_session_id_activity_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_sheets")),
        sa.UniqueConstraint("session_id", name=op.f("uq_attendance_sheets_session_id")),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "reservee",
                "attente",
                "proposee",
                "annulee",
                name="bookingstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("waiting_since", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["foyer_id"], ["foyers.id"], name=op.f("fk_bookings_foyer_id_foyers")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["foyer_members.id"], name=op.f("fk_bookings_member_id_foyer_members")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["activity_sessions.id"],
            name=op.f("fk_bookings_session_id_activity_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("session_id", "member_id", name=op.f("uq_bookings_session_id")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bookings_foyer_id"), ["foyer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bookings_offer_expires_at"), ["offer_expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_bookings_waiting", ["session_id", "state", "waiting_since"], unique=False
        )

    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "famille",
                "guichet",
                "agent",
                "automatique",
                name="channel",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_booking_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_booking_events_booking_id_bookings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_events")),
    )
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_events_booking_id"), ["booking_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_events_booking_id"))

    op.drop_table("booking_events")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_waiting")
        batch_op.drop_index(batch_op.f("ix_bookings_offer_expires_at"))
        batch_op.drop_index(batch_op.f("ix_bookings_member_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_foyer_id"))

    op.drop_table("bookings")
    op.drop_table("attendance_sheets")
    with op.batch_alter_table("attendance_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_marks_member_id"))

    op.drop_table("attendance_marks")
    with op.batch_alter_table("attendance_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_events_session_id"))

    op.drop_table("attendance_events")
    with op.batch_alter_table("activity_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_sessions_day"))

    op.drop_table("activity_sessions")
    with op.batch_alter_table("activity_enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_enrolments_member")
        batch_op.drop_index(batch_op.f("ix_activity_enrolments_foyer_id"))

    op.drop_table("activity_enrolments")
    op.drop_table("shared_custodies")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_service_id"))

    op.drop_table("activities")
