"""Consent per demande, and the one access check every read of a document goes through.

The rule (the CNIL's condition in Pessac): an agent may read a document only while the
family has granted it to a demande that one of the agent's services handles or handled.
A family reads its own foyer's documents. Nobody else reads anything: no administrator
browses a vault; the operator, from the server's commands, reads one document at a time,
named and with a reason, both journaled and shown to the family among the reads.
`readable_by_agent` is the rule as SQL, used both to check one read and to list what an
agent may see, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import Session

from coffre.antivirus import DocumentQuarantined, ScanPending
from coffre.catalogue import configured_types
from coffre.clock import Clock
from coffre.errors import AccessDenied, ConsentError, DocumentAlreadyUsed, DocumentNotFound
from coffre.journal import chain as journal
from coffre.messaging import consent as messaging
from coffre.models import DemandeAccess, Document, DocumentRead, DocumentState, Grant, ScanState
from coffre.operator import Operator, checked_reason
from coffre.sharing import teams


@dataclass(frozen=True)
class FamilyReader:
    """An adult of the foyer, an agent at the counter acting for it, or the operator's CLI."""

    account_id: int | None
    foyer_id: int


@dataclass(frozen=True)
class AgentReader:
    """A member of some services, reading for one demande."""

    account_id: int
    service_ids: frozenset[int]


@dataclass(frozen=True)
class OperatorReader:
    """The operator reading one document from the server's commands, for a stated reason.

    Not a way around consent: the read goes through `check_access` like any other, and its
    entry names the operator and the reason, which the family sees among the reads.
    """

    operator: Operator
    reason: str

    @property
    def account_id(self) -> None:
        """An operator has no account: the journal names them instead."""
        return None


Reader = FamilyReader | AgentReader | OperatorReader


@dataclass(frozen=True)
class DemandeRef:
    """What the vault needs to know of a demande (demandes live in `procedures`)."""

    id: int
    foyer_id: int
    is_open: bool


@dataclass(frozen=True)
class ReadPermit:
    """The outcome of the access check: who reads which document, for what."""

    document: Document
    reader: Reader
    demande_id: int | None
    service_id: int | None


def readable_by_agent(reader: AgentReader, demande_id: int) -> ColumnElement[bool]:
    """SQL condition on `Document`: granted to the demande, handled by one of reader's services."""
    granted = exists().where(
        Grant.document_id == Document.id,
        Grant.demande_id == demande_id,
        Grant.revoked_at.is_(None),
    )
    handled = exists().where(
        DemandeAccess.demande_id == demande_id,
        DemandeAccess.service_id.in_(reader.service_ids),
    )
    return and_(granted, handled)


def check_access(
    session: Session,
    reader: Reader,
    document_id: int,
    demande_id: int | None = None,
    *,
    content: bool = True,
    thread_id: int | None = None,
    team_on: date | None = None,
) -> ReadPermit:
    """Allow the read or raise; a family asking for another foyer's document sees "not found".

    The antivirus's verdict comes after the rule: an agent opens nothing pending or
    quarantined, and nobody opens a quarantined document's content; `content=False` asks
    for a family's own document's record only (its page, its deletion). An agent reads for
    a demande, or for a message thread (`thread_id`) the family shared the document in
    (`coffre.messaging.consent`), or as a team of the child's school on the day `team_on`
    (`coffre.sharing.teams`: a care plan shared on from its demande).
    """
    document = session.get(Document, document_id)
    if isinstance(reader, FamilyReader):
        if document is None or document.foyer_id != reader.foyer_id:
            raise DocumentNotFound(f"document {document_id} is not in foyer {reader.foyer_id}")
        if content:
            _check_scan(document, pending_allowed=True)
        return ReadPermit(document, reader, demande_id, None)
    if isinstance(reader, OperatorReader):
        if document is None:
            raise DocumentNotFound(f"document {document_id} does not exist")
        checked_reason(reader.reason)
        if content:
            _check_scan(document, pending_allowed=True)
        return ReadPermit(document, reader, None, None)
    if thread_id is not None:
        return _thread_permit(session, reader, document, thread_id)
    if team_on is not None:
        return _team_permit(session, reader, document, team_on)
    if document is None or demande_id is None or not reader.service_ids:
        raise AccessDenied(f"agent {reader.account_id} may not read document {document_id}")
    allowed = session.scalar(
        select(Document.id).where(Document.id == document_id, readable_by_agent(reader, demande_id))
    )
    if allowed is None:
        raise AccessDenied(
            f"agent {reader.account_id} may not read document {document_id} "
            f"for demande {demande_id}"
        )
    _check_scan(document, pending_allowed=False)
    return ReadPermit(document, reader, demande_id, _handling_service(session, reader, demande_id))


def _thread_permit(
    session: Session, reader: AgentReader, document: Document | None, thread_id: int
) -> ReadPermit:
    allowed = document is not None and session.scalar(
        select(Document.id).where(
            Document.id == document.id, messaging.readable_in_thread(reader.service_ids, thread_id)
        )
    )
    if document is None or not allowed:
        raise AccessDenied(
            f"agent {reader.account_id} may not read a document in thread {thread_id}"
        )
    _check_scan(document, pending_allowed=False)
    service_id = messaging.reading_service(session, thread_id, document.id)
    return ReadPermit(document, reader, None, service_id)


def _team_permit(
    session: Session, reader: AgentReader, document: Document | None, today: date
) -> ReadPermit:
    shared = None
    if document is not None:
        shared = teams.reading_share(session, reader.service_ids, document.id, today)
    if document is None or shared is None:
        raise AccessDenied(f"agent {reader.account_id} may not read a document as a team")
    _check_scan(document, pending_allowed=False)
    return ReadPermit(document, reader, shared.demande_id, shared.service_id)


def _check_scan(document: Document, pending_allowed: bool) -> None:
    if document.scan_state is ScanState.INFECTED:
        raise DocumentQuarantined(f"document {document.id} is quarantined")
    if document.scan_state is ScanState.PENDING and not pending_allowed:
        raise ScanPending(f"document {document.id} waits for its antivirus scan")


def _handling_service(session: Session, reader: AgentReader, demande_id: int) -> int | None:
    return session.scalar(
        select(DemandeAccess.service_id)
        .where(
            DemandeAccess.demande_id == demande_id,
            DemandeAccess.service_id.in_(reader.service_ids),
        )
        .order_by(DemandeAccess.service_id)
        .limit(1)
    )


def record_read(session: Session, clock: Clock, permit: ReadPermit, purpose: str) -> None:
    """Log the read (who, which document, for which demande, how) and journal it."""
    document = permit.document
    session.add(
        DocumentRead(
            document_id=document.id,
            reader_id=permit.reader.account_id,
            service_id=permit.service_id,
            demande_id=permit.demande_id,
            purpose=purpose,
            read_at=clock.now(),
        )
    )
    journal.record(
        session,
        clock,
        "document.read",
        foyer_id=document.foyer_id,
        actor_id=permit.reader.account_id,
        document_id=document.id,
        demande_id=permit.demande_id,
        details={"purpose": purpose, "service": permit.service_id} | _operator_details(permit),
    )


def _operator_details(permit: ReadPermit) -> dict[str, journal.Detail]:
    reader = permit.reader
    if not isinstance(reader, OperatorReader):
        return {}
    return reader.operator.details(checked_reason(reader.reason))


def granted_documents(session: Session, reader: AgentReader, demande_id: int) -> list[Document]:
    """The documents an agent may see for a demande (nothing else, not even names)."""
    query = (
        select(Document)
        .where(readable_by_agent(reader, demande_id))
        .order_by(Document.type_code, Document.id)
    )
    return list(session.scalars(query))


def grant(
    session: Session, clock: Clock, actor_id: int | None, document: Document, demande: DemandeRef
) -> Grant:
    """Let the services handling the demande read the document (idempotent)."""
    [granted] = grant_all(session, clock, actor_id, [document], demande)
    return granted


def grant_all(
    session: Session,
    clock: Clock,
    actor_id: int | None,
    documents: Sequence[Document],
    demande: DemandeRef,
) -> list[Grant]:
    """`grant` for each document, in a fixed number of statements however many they are
    (a submission grants several at once). ConsentError, and nothing granted, if one of
    them may not be granted."""
    _check_grantable(session, documents, demande)
    ids = [document.id for document in documents]
    current = {
        grant.document_id: grant
        for grant in session.scalars(
            select(Grant).where(
                Grant.document_id.in_(ids),
                Grant.demande_id == demande.id,
                Grant.revoked_at.is_(None),
            )
        )
    }
    now = clock.now()
    new = [
        Grant(document_id=d.id, demande_id=demande.id, granted_by=actor_id, granted_at=now)
        for d in dict.fromkeys(documents)
        if d.id not in current
    ]
    session.add_all(new)
    journal.record_many(
        session,
        clock,
        demande.foyer_id,
        [journal.Happened("consent.granted", actor_id, g.document_id, demande.id) for g in new],
    )
    by_document = current | {grant.document_id: grant for grant in new}
    return [by_document[document.id] for document in documents]


def _check_grantable(session: Session, documents: Sequence[Document], demande: DemandeRef) -> None:
    for document in documents:
        if document.foyer_id != demande.foyer_id:
            raise ConsentError(f"document {document.id} and demande {demande.id} are of two foyers")
        if not demande.is_open:
            raise ConsentError(f"demande {demande.id} is closed")
        if document.superseded_at is not None or document.state is DocumentState.EXPIRE:
            raise ConsentError(f"document {document.id} is replaced or expired")
    taken = used_elsewhere(session, documents, demande.id)
    if taken:
        raise DocumentAlreadyUsed(min(taken))


def used_elsewhere(
    session: Session, documents: Sequence[Document], demande_id: int | None
) -> set[int]:
    """The ids of those documents, of a type that is not reusable, that already serve a
    demande other than `demande_id` (any demande when None): never to be offered again.

    A single-use document serves the first demande it was granted to for good: withdrawing
    the consent, cancelling that demande or its consents ending with its retention period
    do not free it, since the town may have relied on it meanwhile. A new deposit (or a new
    version) is a new document, free to serve.
    """
    kinds = configured_types(session, {document.type_code for document in documents})
    single_use = [document.id for document in documents if not kinds[document.type_code].reusable]
    if not single_use:
        return set()
    query = select(Grant.document_id).where(Grant.document_id.in_(single_use))
    if demande_id is not None:
        query = query.where(Grant.demande_id != demande_id)
    return set(session.scalars(query.distinct()))


def revoke(
    session: Session, clock: Clock, actor_id: int | None, document: Document, demande: DemandeRef
) -> bool:
    """Withdraw consent while the demande is open; False when there was none."""
    if document.foyer_id != demande.foyer_id:
        raise ConsentError(f"document {document.id} and demande {demande.id} are of two foyers")
    if not demande.is_open:
        raise ConsentError(f"demande {demande.id} is closed: its consents are kept as decided")
    current = _active_grant(session, document.id, demande.id)
    if current is None:
        return False
    current.revoked_at, current.revoked_by = clock.now(), actor_id
    journal.record(
        session,
        clock,
        "consent.revoked",
        foyer_id=document.foyer_id,
        actor_id=actor_id,
        document_id=document.id,
        demande_id=demande.id,
    )
    return True


def end_all(session: Session, clock: Clock, demande: DemandeRef, reason: str) -> int:
    """End every consent a closed demande still carries (its retention period is over):
    journaled one entry each, with the reason and nothing of the documents' content.
    Returns how many ended."""
    if demande.is_open:
        raise ConsentError(f"demande {demande.id} is open: the family withdraws its consents")
    active = session.scalars(
        select(Grant).where(Grant.demande_id == demande.id, Grant.revoked_at.is_(None))
    ).all()
    now = clock.now()
    for grant in active:
        grant.revoked_at, grant.revoked_by = now, None
    journal.record_many(
        session,
        clock,
        demande.foyer_id,
        [
            journal.Happened(
                "consent.ended", None, grant.document_id, demande.id, {"reason": reason}
            )
            for grant in active
        ],
    )
    return len(active)


def _active_grant(session: Session, document_id: int, demande_id: int) -> Grant | None:
    return session.scalar(
        select(Grant).where(
            Grant.document_id == document_id,
            Grant.demande_id == demande_id,
            Grant.revoked_at.is_(None),
        )
    )


def open_access(
    session: Session, clock: Clock, demande_id: int, service_id: int, *, first: bool = False
) -> None:
    """Record that a service handles a task of the demande (called by the engine).

    `first`: the demande's first tasks, so it has no access yet to look for.
    """
    if first or session.get(DemandeAccess, (demande_id, service_id)) is None:
        session.add(
            DemandeAccess(demande_id=demande_id, service_id=service_id, opened_at=clock.now())
        )


def reads_of(session: Session, foyer_id: int, document_id: int) -> list[DocumentRead]:
    """Who read one of the foyer's documents, newest first."""
    document = session.get(Document, document_id)
    if document is None or document.foyer_id != foyer_id:
        raise DocumentNotFound(f"document {document_id} is not in foyer {foyer_id}")
    query = (
        select(DocumentRead)
        .where(DocumentRead.document_id == document_id)
        .order_by(DocumentRead.read_at.desc(), DocumentRead.id.desc())
    )
    return list(session.scalars(query))
