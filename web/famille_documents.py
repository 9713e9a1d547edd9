"""What the family's vault pages show: current documents by person, versions, reads by others.

Read-only queries shaped for the pages. They belong in `coffre` (current documents) and
`procedures` (reads with their service and demande) once those packages offer them; they
are here because this issue may not touch those packages. Every query is scoped to the
foyer by the caller's own foyer id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.catalogue import DOCUMENT_TYPES
from coffre.consent import FamilyReader, check_access, reads_of
from coffre.errors import DocumentNotFound
from coffre.maintenance import REMINDER_DAYS
from coffre.models import Document, DocumentRead, DocumentState, Foyer, FoyerMember
from coffre.review import RefusalReason
from procedures.demande_models import Demande, ProcedureVersion
from procedures.models import Account, Entity, Role, Service

STATE_LABELS = {
    DocumentState.DEPOSE: _l("deposited"),
    DocumentState.EN_VERIFICATION: _l("being checked"),
    DocumentState.VALIDE: _l("validated"),
    DocumentState.REFUSE: _l("refused"),
    DocumentState.EXPIRE: _l("expired"),
}
STATE_BADGES = {
    DocumentState.DEPOSE: "fr-badge--info",
    DocumentState.EN_VERIFICATION: "fr-badge--new",
    DocumentState.VALIDE: "fr-badge--success",
    DocumentState.REFUSE: "fr-badge--error",
    DocumentState.EXPIRE: "fr-badge--error",
}
REFUSAL_LABELS = {
    RefusalReason.ILLISIBLE: _l("unreadable"),
    RefusalReason.PERIME: _l("out of date"),
    RefusalReason.INCOMPLET: _l("incomplete"),
    RefusalReason.NE_CORRESPOND_PAS: _l("not the requested document"),
}
PURPOSE_LABELS = {"view": _l("viewed"), "download": _l("downloaded")}
NOT_DEPOSITED_BY_FAMILIES = frozenset({"attestation_mairie"})


def type_label(type_code: str) -> str:
    """The French label of a document type (the catalogue is in French)."""
    kind = DOCUMENT_TYPES.get(type_code)
    return kind.label if kind else type_code


def member_name(member: FoyerMember) -> str:
    return f"{member.first_name} {member.last_name}".strip()


@dataclass(frozen=True)
class DocumentLine:
    """One current document as the vault page shows it."""

    document: Document
    type_label: str
    state: DocumentState  # EXPIRE as soon as the validity date has passed
    expires_soon: bool
    refusal: str | None

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def state_badge(self) -> str:
        return STATE_BADGES[self.state]

    @property
    def stands_out(self) -> bool:
        """Expired or expiring soon: the family must renew it."""
        return self.expires_soon or self.state is DocumentState.EXPIRE

    @property
    def replaceable(self) -> bool:
        return self.document.type_code not in NOT_DEPOSITED_BY_FAMILIES


@dataclass(frozen=True)
class MemberDocuments:
    """The documents of one person, or of the whole foyer when `member` is None."""

    member: FoyerMember | None
    lines: list[DocumentLine]


def document_line(document: Document, today: date) -> DocumentLine:
    """A document with its effective state: a passed validity date means expired."""
    until = document.valid_until
    expired = document.state is DocumentState.EXPIRE or (until is not None and until < today)
    return DocumentLine(
        document=document,
        type_label=type_label(document.type_code),
        state=DocumentState.EXPIRE if expired else document.state,
        expires_soon=not expired
        and until is not None
        and until <= today + timedelta(days=REMINDER_DAYS),
        refusal=refusal_text(document.refusal_reason)
        if document.state is DocumentState.REFUSE
        else None,
    )


def refusal_text(stored: str | None) -> str | None:
    """The agent's reason ("code: comment") in the family's words."""
    if not stored:
        return None
    code, _sep, comment = stored.partition(":")
    try:
        label = str(REFUSAL_LABELS[RefusalReason(code.strip())])
    except ValueError:
        return stored
    return f"{label} — {comment.strip()}" if comment.strip() else label


def vault_contents(session: Session, foyer_id: int, today: date) -> list[MemberDocuments]:
    """The foyer's current documents: foyer-level first, then each member; by type inside."""
    documents = session.scalars(
        select(Document)
        .where(Document.foyer_id == foyer_id, Document.superseded_at.is_(None))
        .order_by(Document.deposited_at.desc(), Document.id.desc())
    ).all()
    foyer = session.get(Foyer, foyer_id)
    members: list[FoyerMember | None] = [None, *(foyer.members if foyer else [])]
    groups = []
    for member in members:
        mine = [d for d in documents if d.member_id == (member.id if member else None)]
        if mine:
            lines = sorted((document_line(d, today) for d in mine), key=lambda x: x.type_label)
            groups.append(MemberDocuments(member, lines))
    return groups


def current_document(
    session: Session, reader: FamilyReader, document_id: int, current_only: bool = True
) -> Document:
    """One of the reader's documents, through the vault's access check (no read is logged).

    With `current_only`, an old version is "not found": only the current one may be
    replaced or deleted.
    """
    document = check_access(session, reader, document_id).document
    if current_only and document.superseded_at is not None:
        raise DocumentNotFound(f"document {document_id} is an old version")
    return document


def foyer_members(session: Session, foyer_id: int) -> list[FoyerMember]:
    foyer = session.get(Foyer, foyer_id)
    return list(foyer.members) if foyer else []


@dataclass(frozen=True)
class ReadLine:
    """One read of a document by someone outside the family."""

    read_at: datetime
    purpose: str
    service: str | None
    entity: str | None
    demande_number: str | None
    procedure: str | None
    version: Document


def reads_by_others(session: Session, foyer_id: int, versions: list[Document]) -> list[ReadLine]:
    """Who outside the family read these versions, newest first (the family's reads left out)."""
    family = set(
        session.scalars(
            select(Account.id).where(Account.foyer_id == foyer_id, Account.role == Role.FAMILLE)
        )
    )
    lines = [
        _read_line(session, read, version)
        for version in versions
        for read in reads_of(session, foyer_id, version.id)
        if read.reader_id is None or read.reader_id not in family
    ]
    return sorted(lines, key=lambda line: line.read_at, reverse=True)


def _read_line(session: Session, read: DocumentRead, version: Document) -> ReadLine:
    service = session.get(Service, read.service_id) if read.service_id else None
    entity = session.get(Entity, service.entity_id) if service else None
    demande = session.get(Demande, read.demande_id) if read.demande_id else None
    procedure = session.get(ProcedureVersion, demande.procedure_version_id) if demande else None
    return ReadLine(
        read_at=read.read_at,
        purpose=str(PURPOSE_LABELS.get(read.purpose, read.purpose)),
        service=service.name if service else None,
        entity=entity.name if entity else None,
        demande_number=demande.number if demande and demande.number else None,
        procedure=procedure.title if procedure else None,
        version=version,
    )
