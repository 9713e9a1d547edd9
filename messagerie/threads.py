"""Writing in threads: a family opens one with a service, both sides write, the family shares
documents of its vault in them and withdraws them.

Each function works in the caller's session and commits its use case. A family is known as
the vault knows it (`FamilyReader`: an adult of the foyer, or an agent at the counter acting
for it, on record); an agent as the engine knows them (`AgentActor`: an account and its
services). A thread the caller may not see is "not found", never "forbidden".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import Clock
from coffre.consent import AgentReader, FamilyReader
from coffre.errors import ConsentError
from coffre.messaging import consent
from coffre.messaging.consent import ThreadRef
from coffre.models import Document, Foyer
from coffre.vault import OpenedDocument, Vault
from messagerie import notices
from messagerie.errors import MessageRefused, Refusal, ThreadNotFound
from messagerie.models import Attachment, Message, Thread
from procedures.models import Demande
from procedures.tasks import AgentActor

SUBJECT_MAX = 200
BODY_MAX = 5000
DOCUMENTS_MAX = 5


@dataclass(frozen=True)
class NewThread:
    """What a family writes to open a thread."""

    service_id: int
    subject: str
    body: str
    demande_id: int | None = None
    document_ids: Sequence[int] = ()


def open_thread(
    session: Session, clock: Clock, family: FamilyReader, new: NewThread, links: notices.Links
) -> Thread:
    """Open a thread with a service, with its first message; the service's agents are told."""
    subject = _checked_subject(new.subject)
    body = _checked_body(new.body)
    if session.get(Service, new.service_id) is None:
        raise MessageRefused(Refusal.UNKNOWN_SERVICE)
    if new.demande_id is not None:
        demande = session.get(Demande, new.demande_id)
        if demande is None or demande.foyer_id != family.foyer_id:
            raise MessageRefused(Refusal.UNKNOWN_DEMANDE)
    now = clock.now()
    thread = Thread(
        foyer_id=family.foyer_id,
        service_id=new.service_id,
        demande_id=new.demande_id,
        subject=subject,
        opened_by=family.account_id,
        opened_at=now,
        last_message_at=now,
    )
    session.add(thread)
    session.flush()
    message = _add_message(session, clock, thread, family.account_id, body, from_family=True)
    _share(session, clock, family, thread, message, new.document_ids)
    notices.tell_service(session, clock, thread, message, links)
    session.commit()
    return thread


def write_as_family(
    session: Session,
    clock: Clock,
    family: FamilyReader,
    thread_id: int,
    body: str,
    links: notices.Links,
    document_ids: Sequence[int] = (),
) -> Message:
    """Add the family's message to one of its threads, with documents of its vault shared."""
    thread = family_thread(session, family, thread_id)
    message = _add_message(session, clock, thread, family.account_id, _checked_body(body), True)
    _share(session, clock, family, thread, message, document_ids)
    notices.tell_service(session, clock, thread, message, links)
    session.commit()
    return message


def write_as_agent(
    session: Session,
    clock: Clock,
    agent: AgentActor,
    thread_id: int,
    body: str,
    links: notices.Links,
) -> Message:
    """Add an agent's message to a thread of one of their services; the family is told."""
    thread = agent_thread(session, agent, thread_id)
    message = _add_message(session, clock, thread, agent.account_id, _checked_body(body), False)
    notices.tell_family(session, clock, thread, message, links)
    session.commit()
    return message


def withdraw_document(
    session: Session, clock: Clock, family: FamilyReader, thread_id: int, document_id: int
) -> bool:
    """Withdraw the consent given in the thread: its service reads the document no more."""
    thread = family_thread(session, family, thread_id)
    document = session.get(Document, document_id)
    if document is None or document.foyer_id != family.foyer_id:
        raise ThreadNotFound(f"document {document_id} is not in thread {thread_id}")
    withdrawn = consent.revoke(session, clock, family.account_id, document, _ref(thread))
    session.commit()
    return withdrawn


def open_document(
    session: Session,
    vault: Vault,
    agent: AgentActor,
    thread_id: int,
    document_id: int,
    purpose: str = "download",
) -> OpenedDocument:
    """Open a document shared in a thread of the agent's services, through the vault's one
    access check (the read is logged); AccessDenied once the family withdrew it."""
    thread = agent_thread(session, agent, thread_id)
    reader = AgentReader(account_id=agent.account_id, service_ids=agent.service_ids)
    return vault.open(session, reader, document_id, purpose=purpose, thread_id=thread.id)


def erase_deleted_foyers(session: Session) -> int:
    """Delete the threads of the foyers whose vault was deleted (crypto-shredded), with their
    messages: what a family wrote is its data too. Returns how many threads went; commits."""
    shredded = select(Foyer.id).where(Foyer.shredded_at.is_not(None))
    ids = list(session.scalars(select(Thread.id).where(Thread.foyer_id.in_(shredded))))
    if ids:
        session.execute(delete(Thread).where(Thread.id.in_(ids)))
    session.commit()
    return len(ids)


def family_thread(session: Session, family: FamilyReader, thread_id: int) -> Thread:
    """The foyer's thread, or ThreadNotFound."""
    thread = session.get(Thread, thread_id)
    if thread is None or thread.foyer_id != family.foyer_id:
        raise ThreadNotFound(f"thread {thread_id} is not of foyer {family.foyer_id}")
    return thread


def agent_thread(session: Session, agent: AgentActor, thread_id: int) -> Thread:
    """A thread of one of the agent's services, or ThreadNotFound."""
    thread = session.get(Thread, thread_id)
    if thread is None or thread.service_id not in agent.service_ids:
        raise ThreadNotFound(f"thread {thread_id} is not of agent {agent.account_id}'s services")
    return thread


def _add_message(
    session: Session,
    clock: Clock,
    thread: Thread,
    author_id: int | None,
    body: str,
    from_family: bool,
) -> Message:
    now = clock.now()
    message = Message(
        thread_id=thread.id, from_family=from_family, author_id=author_id, body=body, sent_at=now
    )
    session.add(message)
    thread.last_message_at = now
    session.flush()
    return message


def _share(
    session: Session,
    clock: Clock,
    family: FamilyReader,
    thread: Thread,
    message: Message,
    document_ids: Sequence[int],
) -> None:
    ids = list(dict.fromkeys(document_ids))
    if len(ids) > DOCUMENTS_MAX:
        raise MessageRefused(Refusal.TOO_MANY_DOCUMENTS)
    documents = session.scalars(
        select(Document).where(Document.id.in_(ids), Document.foyer_id == family.foyer_id)
    ).all()
    if len(documents) != len(ids):
        raise MessageRefused(Refusal.UNKNOWN_DOCUMENT)
    for document in documents:
        try:
            consent.grant(session, clock, family.account_id, document, _ref(thread))
        except ConsentError:
            raise MessageRefused(Refusal.DOCUMENT_NOT_SHAREABLE) from None
        session.add(Attachment(message_id=message.id, document_id=document.id))


def _ref(thread: Thread) -> ThreadRef:
    return ThreadRef(id=thread.id, foyer_id=thread.foyer_id, service_id=thread.service_id)


def _checked_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        raise MessageRefused(Refusal.NO_SUBJECT)
    if len(subject) > SUBJECT_MAX:
        raise MessageRefused(Refusal.SUBJECT_TOO_LONG)
    return subject


def _checked_body(body: str) -> str:
    body = body.strip().replace("\r\n", "\n")
    if not body:
        raise MessageRefused(Refusal.EMPTY)
    if len(body) > BODY_MAX:
        raise MessageRefused(Refusal.TOO_LONG)
    return body
