"""The vault's tables: foyers, their keys and documents, consent, reads and the journal."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base


def str_enum(enum: type[StrEnum]) -> Enum:
    """A StrEnum stored as its values in a VARCHAR (portable, no native enum type)."""
    return Enum(enum, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class MemberRole(StrEnum):
    ADULTE = "adulte"
    ENFANT = "enfant"


class DocumentState(StrEnum):
    DEPOSE = "depose"
    EN_VERIFICATION = "en_verification"
    VALIDE = "valide"
    REFUSE = "refuse"
    EXPIRE = "expire"


class ScanState(StrEnum):
    """Where a document is in its antivirus scan (`coffre.antivirus`)."""

    PENDING = "pending"  # deposited, waiting for the worker's scan: agents may not open it
    CLEAN = "clean"
    INFECTED = "infected"  # quarantined: its content is deleted, its record kept
    NOT_SCANNED = "not_scanned"  # deposited while no scanner was configured


class TwoDDocState(StrEnum):
    """What a document's 2D-Doc says, read after its deposit (`coffre.upkeep.authenticity`)."""

    PENDING = "pending"  # not read yet: the worker reads it
    NONE = "none"  # no 2D-Doc on it (or not a PDF nor an image)
    VALID = "valid"  # its signature verified against the trust list
    INVALID = "invalid"  # a 2D-Doc whose signature or certificate does not hold


class Channel(StrEnum):
    EN_LIGNE = "en_ligne"
    GUICHET = "guichet"
    MAIRIE = "mairie"  # issued by the town (certificates)


class Foyer(Base):
    """A household: one or more responsible adults and their children."""

    __tablename__ = "foyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    address_line: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    # The household's phone number, as the town's services call it (set by a change of
    # situation an agent checked: procedure "changement_situation").
    phone: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime]
    # Set when the foyer was crypto-shredded: its key, documents and members are gone.
    shredded_at: Mapped[datetime | None]
    # The family quotient as validated by an agent (procedure "quotient_familial"), never as
    # typed by the family; pricing reads the bracket while `qf_valid_until` has not passed.
    quotient_familial: Mapped[int | None]
    tranche_qf: Mapped[str | None] = mapped_column(String(2))
    qf_valid_until: Mapped[date | None]
    qf_set_at: Mapped[datetime | None]

    members: Mapped[list[FoyerMember]] = relationship(
        back_populates="foyer", cascade="all, delete-orphan", order_by="FoyerMember.id"
    )


class FoyerMember(Base):
    """An adult or a child of a foyer."""

    __tablename__ = "foyer_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id", ondelete="CASCADE"), index=True)
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole))
    first_name: Mapped[str] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date | None]
    # Children only: the school attended and the "projet d'accueil individualisé" (PAI) that
    # the canteen and after-school care must know about, with the allergies it covers.
    school: Mapped[str | None] = mapped_column(String(200))
    has_pai: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    allergies: Mapped[str | None] = mapped_column(String(500))

    foyer: Mapped[Foyer] = relationship(back_populates="members")


class FoyerKey(Base):
    """A foyer's data key, stored only wrapped by a version of the master keyring."""

    __tablename__ = "foyer_keys"

    foyer_id: Mapped[int] = mapped_column(
        ForeignKey("foyers.id", ondelete="CASCADE"), primary_key=True
    )
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime]
    wrapped_at: Mapped[datetime]


class Document(Base):
    """One version of a supporting document; a replacement is a new row pointing back."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_foyer_current", "foyer_id", "superseded_at"),
        # The worker's queue: the few pending documents among all, found without a scan.
        Index(
            "ix_documents_scan_pending",
            "scanned_at",
            "id",
            postgresql_where=text("scan_state = 'pending'"),
            sqlite_where=text("scan_state = 'pending'"),
        ),
        # The worker's 2D-Doc queue, as small.
        Index(
            "ix_documents_two_d_doc_pending",
            "id",
            postgresql_where=text("two_d_doc_state = 'pending'"),
            sqlite_where=text("two_d_doc_state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("foyer_members.id", ondelete="SET NULL")
    )
    type_code: Mapped[str] = mapped_column(String(40))
    state: Mapped[DocumentState] = mapped_column(str_enum(DocumentState), index=True)
    refusal_reason: Mapped[str | None] = mapped_column(String(500))
    original_name: Mapped[str] = mapped_column(String(200))
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(200), unique=True)
    issued_on: Mapped[date]
    valid_until: Mapped[date | None] = mapped_column(index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    deposited_by: Mapped[int | None]  # account id; accounts live in a package above
    deposited_at: Mapped[datetime]
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    superseded_at: Mapped[datetime | None]
    expiry_reminded_on: Mapped[date | None]
    scan_state: Mapped[ScanState] = mapped_column(
        str_enum(ScanState), default=ScanState.NOT_SCANNED, server_default="not_scanned"
    )
    scanned_at: Mapped[datetime | None]  # the last scan's result, or its last failed attempt
    two_d_doc_state: Mapped[TwoDDocState] = mapped_column(
        str_enum(TwoDDocState), default=TwoDDocState.PENDING, server_default="pending"
    )
    # What a valid 2D-Doc carries (names, address, income: personal data, never logged), or
    # why it is not valid; JSON written by `coffre.upkeep.authenticity`.
    two_d_doc_fields: Mapped[str | None] = mapped_column(Text)


class Grant(Base):
    """The family's consent: this document may be read for this demande."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_document_demande", "document_id", "demande_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    demande_id: Mapped[int] = mapped_column(index=True)
    granted_by: Mapped[int | None]
    granted_at: Mapped[datetime]
    revoked_by: Mapped[int | None]
    revoked_at: Mapped[datetime | None]


class DemandeAccess(Base):
    """A service that handles (or handled) a task of a demande, and so may read its grants."""

    __tablename__ = "demande_access"

    demande_id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(primary_key=True)
    opened_at: Mapped[datetime]


class MessageGrant(Base):
    """The family's consent given in a message thread: the thread's service may read the
    document for that thread (threads live in `messagerie`, a package above)."""

    __tablename__ = "message_grants"
    __table_args__ = (Index("ix_message_grants_document_thread", "document_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(index=True)
    service_id: Mapped[int]
    granted_by: Mapped[int | None]
    granted_at: Mapped[datetime]
    revoked_by: Mapped[int | None]
    revoked_at: Mapped[datetime | None]


class TeamShare(Base):
    """A document granted to a demande, shared on from it with one team of the child's
    school (`coffre.sharing.teams`): the service's agents may read it until `valid_until`,
    while the grant to the demande lasts, unless the share was ended."""

    __tablename__ = "team_shares"
    __table_args__ = (Index("ix_team_shares_service_document", "service_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    demande_id: Mapped[int] = mapped_column(index=True)
    foyer_id: Mapped[int] = mapped_column(index=True)
    member_id: Mapped[int | None]  # the child the document is about
    service_id: Mapped[int]
    school: Mapped[str] = mapped_column(String(200))
    shared_at: Mapped[datetime]
    valid_until: Mapped[date]
    ended_at: Mapped[datetime | None]


class DocumentRead(Base):
    """One read of a document: who, for which demande, how, when."""

    __tablename__ = "document_reads"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    reader_id: Mapped[int | None]
    service_id: Mapped[int | None]
    demande_id: Mapped[int | None]
    purpose: Mapped[str] = mapped_column(String(20))
    read_at: Mapped[datetime]


class JournalHead(Base):
    """The last entry of one hash chain (one per foyer, and "system")."""

    __tablename__ = "journal_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class JournalEntry(Base):
    """An append-only, hash-chained record of one vault operation (ids only, no contents)."""

    __tablename__ = "journal_entries"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_journal_entries_chain_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None]
    foyer_id: Mapped[int | None] = mapped_column(index=True)
    document_id: Mapped[int | None]
    demande_id: Mapped[int | None]
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class JournalCheckpoint(Base):
    """A signed snapshot of every chain's head; its copy in the object store is authoritative.

    The database copy lists what was written (verify compares it with the store's), but is
    never trusted on its own: whoever can write here could delete or forge rows.
    """

    __tablename__ = "journal_checkpoints"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    store_key: Mapped[str] = mapped_column(String(255), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(100))
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary)


class ExportState(StrEnum):
    """Where a vault's export prepared in the background is (`coffre.portability.prepared`)."""

    PENDING = "pending"  # asked for: the worker builds it
    READY = "ready"  # encrypted in the store, to download until `expires_at`
    FAILED = "failed"  # could not be built: the family may ask again
    EXPIRED = "expired"  # its time is over: its blob is deleted


class VaultExport(Base):
    """A foyer's whole vault as a ZIP, prepared by the worker when it is too large for one
    request, kept encrypted with the foyer's data key for a few days."""

    __tablename__ = "vault_exports"
    __table_args__ = (
        # At most one export being prepared per foyer.
        Index(
            "uq_vault_exports_pending",
            "foyer_id",
            unique=True,
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_vault_exports_state", "state", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int | None]  # account id; accounts live in a package above
    requested_at: Mapped[datetime]
    state: Mapped[ExportState] = mapped_column(str_enum(ExportState))
    # The worker building it, and how many times one tried (a crash leaves it claimed).
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    blob_key: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    ready_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
