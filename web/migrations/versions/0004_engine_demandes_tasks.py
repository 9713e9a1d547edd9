"""engine procedure versions demandes tasks events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:26:38.009589
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "procedure_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("published_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_versions")),
        sa.UniqueConstraint("code", "version", name="uq_procedure_versions_code"),
    )
    with op.batch_alter_table("procedure_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_versions_code"), ["code"], unique=False)

    op.create_table(
        "demandes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("procedure_version_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "brouillon",
                "deposee",
                "en_instruction",
                "attente_famille",
                "acceptee",
                "refusee",
                "classee",
                "annulee",
                name="demandestatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("form_data", sa.Text(), nullable=False),
        sa.Column("workflow_state", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["foyer_id"], ["foyers.id"], name=op.f("fk_demandes_foyer_id_foyers")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_version_id"],
            ["procedure_versions.id"],
            name=op.f("fk_demandes_procedure_version_id_procedure_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demandes")),
        sa.UniqueConstraint("number", name=op.f("uq_demandes_number")),
    )
    with op.batch_alter_table("demandes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_demandes_foyer_id"), ["foyer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_demandes_status"), ["status"], unique=False)

    op.create_table(
        "demande_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("demande_id", sa.Integer(), nullable=False),
        sa.Column("at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status_from", sa.String(length=20), nullable=True),
        sa.Column("status_to", sa.String(length=20), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["demande_id"], ["demandes.id"], name=op.f("fk_demande_events_demande_id_demandes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demande_events")),
    )
    with op.batch_alter_table("demande_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_demande_events_demande_id"), ["demande_id"], unique=False
        )

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("demande_id", sa.Integer(), nullable=False),
        sa.Column("spiff_task_id", sa.String(length=40), nullable=False),
        sa.Column("spec_id", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("lane", sa.String(length=120), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("for_family", sa.Boolean(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "claimed",
                "waiting_family",
                "done",
                "cancelled",
                name="taskstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_remaining_seconds", sa.Integer(), nullable=True),
        sa.Column("completed_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.Integer(), nullable=True),
        sa.Column("escalated_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["accounts.id"], name=op.f("fk_tasks_assignee_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["demande_id"], ["demandes.id"], name=op.f("fk_tasks_demande_id_demandes")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_tasks_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_demande_id"), ["demande_id"], unique=False)
        batch_op.create_index("ix_tasks_inbox", ["service_id", "state", "due_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_inbox")
        batch_op.drop_index(batch_op.f("ix_tasks_demande_id"))

    op.drop_table("tasks")
    with op.batch_alter_table("demande_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_demande_events_demande_id"))

    op.drop_table("demande_events")
    with op.batch_alter_table("demandes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_demandes_status"))
        batch_op.drop_index(batch_op.f("ix_demandes_foyer_id"))

    op.drop_table("demandes")
    with op.batch_alter_table("procedure_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_versions_code"))

    op.drop_table("procedure_versions")
