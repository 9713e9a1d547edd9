"""How the family's vault pages present documents: state labels, badges, refusal reasons.

The queries live in `procedures.vault.contents`; this module only adds the French words the
pages show, so a view calls one of these, then renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from coffre.models import Document, DocumentState, FoyerMember, ScanState
from coffre.review import RefusalReason
from procedures.vault import contents as vault_views
from procedures.vault.contents import (
    NOT_DEPOSITED_BY_FAMILIES,
    current_document,
    effective_state,
    foyer_members,
    type_label,
)
from web.antivirus import quarantine_reason
from web.links import id_link

__all__ = [
    "NOT_DEPOSITED_BY_FAMILIES",
    "DocumentLine",
    "MemberDocuments",
    "ReadLine",
    "VaultRow",
    "current_document",
    "document_line",
    "foyer_members",
    "member_name",
    "owner_names",
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
    "exploitant": _l("read by the portal's operator, for the reason given"),  # flask coffre read
    "equipe": _l("read by your child's school team (care plan)"),  # coffre.sharing.teams
}


def member_name(member: FoyerMember) -> str:
    return f"{member.first_name} {member.last_name}".strip()


def owner_names(session: Session, foyer_id: int) -> dict[int | None, str]:
    """Whom a document is for, by its `member_id`: a person's name, or the whole foyer."""
    names: dict[int | None, str] = {None: _("The whole household")}
    names.update((member.id, member_name(member)) for member in foyer_members(session, foyer_id))
    return names


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
class VaultRow:
    """One current document of the vault page, its words, dates and links ready to print."""

    id: int
    type_label: str
    state_label: str
    state_badge: str
    expires_soon: bool
    refusal: str | None
    file_name: str
    issued: str  # "Délivré le 1 septembre 2026"
    validity: str
    stands_out: bool
    replaceable: bool
    links: dict[str, str]  # by DOCUMENT_LINKS' names
    scan: str  # the antivirus's ScanState: "pending" shows "analyse en cours"
    quarantine: str | None  # why an infected document cannot be opened


@dataclass(frozen=True)
class MemberDocuments:
    """The documents of one person, or of the whole foyer when `member` is None."""

    member: FoyerMember | None
    lines: list[VaultRow]


# Each document's links on the vault page: their endpoint, the id's name and other arguments.
DOCUMENT_LINKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "voir": ("famille.voir", "document_id", {}),
    "fichier": ("famille.fichier", "document_id", {"disposition": "attachment"}),
    "remplacer": ("famille.ajouter", "remplace", {}),
    "historique": ("famille.historique", "document_id", {}),
    "consultations": ("famille.consultations", "document_id", {}),
    "supprimer": ("famille.supprimer_confirmation", "document_id", {}),
}


class VaultRows:
    """Makes the vault page's rows, with what they share worked out once for the page.

    A vault can hold hundreds of documents, and `url_for`, a translation and a date's
    formatting each cost more than the rest of a row: each link's pattern is built once
    (`web.links.id_link`), each word translated once and each distinct date formatted once,
    instead of in the template for every document.
    """

    def __init__(self) -> None:
        self.links = {
            name: id_link(endpoint, id_name, **args)
            for name, (endpoint, id_name, args) in DOCUMENT_LINKS.items()
        }
        self.states = {state: str(label) for state, label in STATE_LABELS.items()}
        self.issued_on = _("Issued on %(date)s", date="{date}")
        self.valid_until = _("Valid until %(date)s", date="{date}")
        self.no_expiry = _("No expiry date")
        self.dates: dict[date, str] = {}
        self.quarantine = quarantine_reason()

    def __call__(self, line: DocumentLine) -> VaultRow:
        document = line.document
        valid_until = document.valid_until
        return VaultRow(
            id=document.id,
            type_label=line.type_label,
            state_label=self.states[line.state],
            state_badge=line.state_badge,
            expires_soon=line.expires_soon,
            refusal=line.refusal,
            file_name=document.original_name,
            issued=self.issued_on.format(date=self.long_date(document.issued_on)),
            validity=self.valid_until.format(date=self.long_date(valid_until))
            if valid_until
            else self.no_expiry,
            stands_out=line.stands_out,
            replaceable=line.replaceable,
            links={name: link(document.id) for name, link in self.links.items()},
            scan=document.scan_state.value,
            quarantine=self.quarantine if document.scan_state is ScanState.INFECTED else None,
        )

    def long_date(self, day: date) -> str:
        """The date as the pages write it ("1 septembre 2026")."""
        if day not in self.dates:
            self.dates[day] = format_date(day, "long")
        return self.dates[day]


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
    row = VaultRows()
    return [
        MemberDocuments(group.member, [row(document_line(d, today)) for d in group.documents])
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
