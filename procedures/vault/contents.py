"""What the family's vault pages read: current documents by person, and reads by others.

Read-only queries shaped for the pages, each scoped to the caller's own foyer id; the
pages add their labels. The one access rule of the vault (`coffre.consent.check_access`)
decides which document a family may open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Entity, Role, Service
from coffre.catalogue import DOCUMENT_TYPES
from coffre.consent import FamilyReader, check_access, reads_of
from coffre.errors import DocumentNotFound
from coffre.models import Document, DocumentRead, DocumentState, Foyer, FoyerMember
from coffre.upkeep.maintenance import REMINDER_DAYS
from procedures.models import Demande, ProcedureVersion

# Issued by the town into the vault: a family may not replace them with its own file.
NOT_DEPOSITED_BY_FAMILIES = frozenset({"attestation_mairie", "facture"})


def type_label(type_code: str) -> str:
    """The French label of a document type (the catalogue is in French)."""
    kind = DOCUMENT_TYPES.get(type_code)
    return kind.label if kind else type_code


@dataclass(frozen=True)
class EffectiveState:
    """A document's state as the family must read it today."""

    state: DocumentState  # EXPIRE as soon as the validity date has passed
    expires_soon: bool


def effective_state(document: Document, today: date) -> EffectiveState:
    """A passed validity date means expired, whether or not the daily job has run yet."""
    until = document.valid_until
    expired = document.state is DocumentState.EXPIRE or (until is not None and until < today)
    soon = not expired and until is not None and until <= today + timedelta(days=REMINDER_DAYS)
    return EffectiveState(DocumentState.EXPIRE if expired else document.state, soon)


@dataclass(frozen=True)
class MemberGroup:
    """The current documents of one person, or of the whole foyer when `member` is None."""

    member: FoyerMember | None
    documents: list[Document]  # by type label, newest first within a type


def vault_contents(session: Session, foyer_id: int) -> list[MemberGroup]:
    """The foyer's current documents: foyer-level first, then each member; by type inside."""
    documents = session.scalars(
        select(Document)
        .where(Document.foyer_id == foyer_id, Document.superseded_at.is_(None))
        .order_by(Document.deposited_at.desc(), Document.id.desc())
    ).all()
    members: list[FoyerMember | None] = [None, *foyer_members(session, foyer_id)]
    groups = []
    for member in members:
        mine = [d for d in documents if d.member_id == (member.id if member else None)]
        if mine:
            groups.append(MemberGroup(member, sorted(mine, key=lambda d: type_label(d.type_code))))
    return groups


def current_document(
    session: Session, reader: FamilyReader, document_id: int, current_only: bool = True
) -> Document:
    """One of the reader's documents, through the vault's access check (no read is logged).

    With `current_only`, an old version is "not found": only the current one may be
    replaced or deleted.
    """
    document = check_access(session, reader, document_id, content=False).document
    if current_only and document.superseded_at is not None:
        raise DocumentNotFound(f"document {document_id} is an old version")
    return document


def foyer_members(session: Session, foyer_id: int) -> list[FoyerMember]:
    """The foyer's adults and children, in the order they were added."""
    foyer = session.get(Foyer, foyer_id)
    return list(foyer.members) if foyer else []


@dataclass(frozen=True)
class ReadRecord:
    """One read of a document by someone outside the family."""

    read_at: datetime
    purpose: str  # "view" or "download", as the vault logs it
    service: str | None
    entity: str | None
    demande_number: str | None
    procedure: str | None
    version: Document


def reads_by_others(session: Session, foyer_id: int, versions: list[Document]) -> list[ReadRecord]:
    """Who outside the family read these versions, newest first (the family's reads left out)."""
    family = set(
        session.scalars(
            select(Account.id).where(Account.foyer_id == foyer_id, Account.role == Role.FAMILLE)
        )
    )
    records = [
        _read_record(session, read, version)
        for version in versions
        for read in reads_of(session, foyer_id, version.id)
        if read.reader_id is None or read.reader_id not in family
    ]
    return sorted(records, key=lambda record: record.read_at, reverse=True)


def _read_record(session: Session, read: DocumentRead, version: Document) -> ReadRecord:
    service = session.get(Service, read.service_id) if read.service_id else None
    entity = session.get(Entity, service.entity_id) if service else None
    demande = session.get(Demande, read.demande_id) if read.demande_id else None
    procedure = session.get(ProcedureVersion, demande.procedure_version_id) if demande else None
    return ReadRecord(
        read_at=read.read_at,
        purpose=read.purpose,
        service=service.name if service else None,
        entity=entity.name if entity else None,
        demande_number=demande.number if demande and demande.number else None,
        procedure=procedure.title if procedure else None,
        version=version,
    )
