"""vault: foyer keys, documents, consent grants, demande access, reads, journal

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 12:09:30.771432
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coffre.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "demande_access",
        sa.Column("demande_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("demande_id", "service_id", name=op.f("pk_demande_access")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("foyer_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("demande_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint("chain", "seq", name="uq_journal_entries_chain_seq"),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journal_entries_foyer_id"), ["foyer_id"], unique=False)

    op.create_table(
        "journal_heads",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_journal_heads")),
    )
    op.create_table(
        "foyer_keys",
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("wrapped_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["foyer_id"],
            ["foyers.id"],
            name=op.f("fk_foyer_keys_foyer_id_foyers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("foyer_id", name=op.f("pk_foyer_keys")),
    )
    with op.batch_alter_table("foyer_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_foyer_keys_kek_version"), ["kek_version"], unique=False
        )

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("foyer_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("type_code", sa.String(length=40), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "depose",
                "en_verification",
                "valide",
                "refuse",
                "expire",
                name="documentstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("refusal_reason", sa.String(length=500), nullable=True),
        sa.Column("original_name", sa.String(length=200), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=200), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("en_ligne", "guichet", "mairie", name="channel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("deposited_by", sa.Integer(), nullable=True),
        sa.Column("deposited_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expiry_reminded_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["foyer_id"], ["foyers.id"], name=op.f("fk_documents_foyer_id_foyers")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["foyer_members.id"],
            name=op.f("fk_documents_member_id_foyer_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["documents.id"], name=op.f("fk_documents_replaces_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("blob_key", name=op.f("uq_documents_blob_key")),
        sa.UniqueConstraint("uid", name=op.f("uq_documents_uid")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_documents_foyer_current", ["foyer_id", "superseded_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_documents_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_valid_until"), ["valid_until"], unique=False)

    op.create_table(
        "document_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("reader_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("demande_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("read_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_reads_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_reads")),
    )
    with op.batch_alter_table("document_reads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_reads_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("demande_id", sa.Integer(), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.Column("granted_at", coffre.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", coffre.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_grants_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grants_demande_id"), ["demande_id"], unique=False)
        batch_op.create_index(
            "ix_grants_document_demande", ["document_id", "demande_id"], unique=False
        )

    with op.batch_alter_table("foyers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("shredded_at", coffre.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("foyers", schema=None) as batch_op:
        batch_op.drop_column("shredded_at")

    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index("ix_grants_document_demande")
        batch_op.drop_index(batch_op.f("ix_grants_demande_id"))

    op.drop_table("grants")
    with op.batch_alter_table("document_reads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_reads_document_id"))

    op.drop_table("document_reads")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_valid_until"))
        batch_op.drop_index(batch_op.f("ix_documents_state"))
        batch_op.drop_index("ix_documents_foyer_current")

    op.drop_table("documents")
    with op.batch_alter_table("foyer_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_foyer_keys_kek_version"))

    op.drop_table("foyer_keys")
    op.drop_table("journal_heads")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_entries_foyer_id"))

    op.drop_table("journal_entries")
    op.drop_table("demande_access")
