"""An agent's verdict on a document it may read for a demande: valid, or refused with a reason."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from coffre import consent
from coffre.clock import Clock
from coffre.consent import AgentReader
from coffre.journal import chain as journal
from coffre.models import Document, DocumentState


class RefusalReason(StrEnum):
    ILLISIBLE = "illisible"
    PERIME = "perime"
    INCOMPLET = "incomplet"
    NE_CORRESPOND_PAS = "ne_correspond_pas"


def start_review(
    session: Session, clock: Clock, reader: AgentReader, document_id: int, demande_id: int
) -> Document:
    """Mark a deposited document as being checked (en vérification)."""
    document = consent.check_access(session, reader, document_id, demande_id).document
    if document.state is DocumentState.DEPOSE:
        document.state = DocumentState.EN_VERIFICATION
        _journal(session, clock, reader, document, demande_id, "document.in_review", {})
    session.commit()
    return document


def validate(
    session: Session, clock: Clock, reader: AgentReader, document_id: int, demande_id: int
) -> Document:
    """The document is valid; it will be reused as such for later demandes."""
    document = consent.check_access(session, reader, document_id, demande_id).document
    document.state, document.refusal_reason = DocumentState.VALIDE, None
    _journal(session, clock, reader, document, demande_id, "document.validated", {})
    session.commit()
    return document


def refuse(
    session: Session,
    clock: Clock,
    reader: AgentReader,
    document_id: int,
    demande_id: int,
    reason: RefusalReason,
    comment: str = "",
) -> Document:
    """The document is refused, with a reason from the list and an optional comment."""
    document = consent.check_access(session, reader, document_id, demande_id).document
    document.state = DocumentState.REFUSE
    document.refusal_reason = (reason.value + (f": {comment.strip()}" if comment.strip() else ""))[
        :500
    ]
    _journal(
        session, clock, reader, document, demande_id, "document.refused", {"reason": reason.value}
    )
    session.commit()
    return document


def _journal(
    session: Session,
    clock: Clock,
    reader: AgentReader,
    document: Document,
    demande_id: int,
    event: str,
    details: dict[str, journal.Detail],
) -> None:
    journal.record(
        session,
        clock,
        event,
        foyer_id=document.foyer_id,
        actor_id=reader.account_id,
        document_id=document.id,
        demande_id=demande_id,
        details=details,
    )
