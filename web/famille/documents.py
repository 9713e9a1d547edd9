"""How the family's vault pages present documents: state labels, badges, refusal reasons.

The queries live in `procedures.vault_views`; this module only adds the French words the
pages show, so a view calls one of these, then renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from coffre.models import Document, DocumentState, FoyerMember
from coffre.review import RefusalReason
from procedures import vault_views
from procedures.vault_views import (
    NOT_DEPOSITED_BY_FAMILIES,
    current_document,
    effective_state,
    foyer_members,
    type_label,
)

__all__ = [
    "NOT_DEPOSITED_BY_FAMILIES",
    "DocumentLine",
    "MemberDocuments",
    "ReadLine",
    "current_document",
    "document_line",
    "foyer_members",
    "member_name",
    "reads_by_others",
    "refusal_text",
    "type_label",
    "vault_contents",
]

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
PURPOSE_LABELS = {
    "view": _l("viewed"),
    "download": _l("downloaded"),
    "logiciel": _l("copied by the service's software"),  # read through the API
}


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
    effective = effective_state(document, today)
    return DocumentLine(
        document=document,
        type_label=type_label(document.type_code),
        state=effective.state,
        expires_soon=effective.expires_soon,
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
    return [
        MemberDocuments(group.member, [document_line(d, today) for d in group.documents])
        for group in vault_views.vault_contents(session, foyer_id)
    ]


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
    """Who outside the family read these versions, newest first, the purpose in French."""
    return [
        ReadLine(
            read_at=record.read_at,
            purpose=str(PURPOSE_LABELS.get(record.purpose, record.purpose)),
            service=record.service,
            entity=record.entity,
            demande_number=record.demande_number,
            procedure=record.procedure,
            version=record.version,
        )
        for record in vault_views.reads_by_others(session, foyer_id, versions)
    ]
