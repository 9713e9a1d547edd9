"""Consent given in a message thread: the thread's service may read an attached document.

The same rule as a demande's consent (`coffre.consent`), for a thread instead: the family
attaches one of its documents to a message, which lets the thread's service read it, for
that thread only, until the family withdraws it. Threads live in `messagerie` (above): the
vault knows a thread by its id, its foyer and its service, as it knows a demande by its id.
The read itself goes through `coffre.consent.check_access`, like every other.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.errors import ConsentError
from coffre.journal import chain as journal
from coffre.models import Document, DocumentState, MessageGrant

GRANTED_EVENT = "message.document_shared"
REVOKED_EVENT = "message.document_withdrawn"


@dataclass(frozen=True)
class ThreadRef:
    """What the vault needs to know of a message thread."""

    id: int
    foyer_id: int
    service_id: int


def readable_in_thread(service_ids: frozenset[int], thread_id: int) -> ColumnElement[bool]:
    """SQL condition on `Document`: shared in the thread, whose service is one of these."""
    return exists().where(
        MessageGrant.document_id == Document.id,
        MessageGrant.thread_id == thread_id,
        MessageGrant.service_id.in_(service_ids),
        MessageGrant.revoked_at.is_(None),
    )


def reading_service(session: Session, thread_id: int, document_id: int) -> int | None:
    """The service the document is shared with in the thread (for the read's log)."""
    return session.scalar(
        select(MessageGrant.service_id).where(
            MessageGrant.thread_id == thread_id,
            MessageGrant.document_id == document_id,
            MessageGrant.revoked_at.is_(None),
        )
    )


def grant(
    session: Session, clock: Clock, actor_id: int | None, document: Document, thread: ThreadRef
) -> MessageGrant:
    """Let the thread's service read the document (idempotent); ConsentError if it may not
    be shared: another foyer's, replaced or expired."""
    if document.foyer_id != thread.foyer_id:
        raise ConsentError(f"document {document.id} and thread {thread.id} are of two foyers")
    if document.superseded_at is not None or document.state is DocumentState.EXPIRE:
        raise ConsentError(f"document {document.id} is replaced or expired")
    current = active(session, thread.id, document.id)
    if current is not None:
        return current
    new = MessageGrant(
        document_id=document.id,
        thread_id=thread.id,
        service_id=thread.service_id,
        granted_by=actor_id,
        granted_at=clock.now(),
    )
    session.add(new)
    _journal(session, clock, GRANTED_EVENT, actor_id, document, thread)
    return new


def revoke(
    session: Session, clock: Clock, actor_id: int | None, document: Document, thread: ThreadRef
) -> bool:
    """Withdraw the consent: the service reads the document no more. False when there was none."""
    if document.foyer_id != thread.foyer_id:
        raise ConsentError(f"document {document.id} and thread {thread.id} are of two foyers")
    current = active(session, thread.id, document.id)
    if current is None:
        return False
    current.revoked_at, current.revoked_by = clock.now(), actor_id
    _journal(session, clock, REVOKED_EVENT, actor_id, document, thread)
    return True


def active(session: Session, thread_id: int, document_id: int) -> MessageGrant | None:
    """The consent in force for this document in this thread, if any."""
    return session.scalar(
        select(MessageGrant).where(
            MessageGrant.thread_id == thread_id,
            MessageGrant.document_id == document_id,
            MessageGrant.revoked_at.is_(None),
        )
    )


def of_thread(session: Session, thread_id: int) -> dict[int, MessageGrant]:
    """Each document shared in the thread, with its latest consent (in force or withdrawn)."""
    grants = session.scalars(
        select(MessageGrant)
        .where(MessageGrant.thread_id == thread_id)
        .order_by(MessageGrant.granted_at, MessageGrant.id)
    )
    return {grant.document_id: grant for grant in grants}


def _journal(
    session: Session,
    clock: Clock,
    event: str,
    actor_id: int | None,
    document: Document,
    thread: ThreadRef,
) -> None:
    journal.record(
        session,
        clock,
        event,
        foyer_id=document.foyer_id,
        actor_id=actor_id,
        document_id=document.id,
        details={"thread": thread.id, "service": thread.service_id},
    )
