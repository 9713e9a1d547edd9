"""Reading threads: the lists of each side, a thread opened (the read receipts), unread counts.

Opening a thread marks the other side's messages read: a family's adult opening it marks the
service's messages, an agent of the service marks the family's. Each message's `read_at` is
the receipt ("Lu le ...") its author sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session

from accounts.models import Account, Entity, Service
from coffre.catalogue import configured_types
from coffre.clock import Clock
from coffre.consent import FamilyReader
from coffre.messaging import consent
from coffre.models import Document, DocumentState, Foyer, ScanState
from messagerie.models import Attachment, Message, Thread
from messagerie.threads import agent_thread, family_thread
from procedures.models import Demande, ProcedureVersion
from procedures.tasks import AgentActor


@dataclass(frozen=True)
class Choice:
    """Something a family may pick in the new thread's form: a service, a demande, a document."""

    id: int
    label: str


@dataclass(frozen=True)
class ThreadLine:
    """A thread in a list: its latest message's date and how many messages wait unread."""

    id: int
    subject: str
    service: str
    foyer: str  # shown to agents only
    last_message_at: datetime
    unread: int


@dataclass(frozen=True)
class AttachmentLine:
    document_id: int
    name: str
    shared: bool  # the consent is in force; False once the family withdrew it
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class MessageLine:
    id: int
    from_family: bool
    author: str
    body: str
    sent_at: datetime
    read_at: datetime | None
    attachments: list[AttachmentLine]


@dataclass(frozen=True)
class ThreadPage:
    id: int
    subject: str
    service: str
    foyer: str
    demande: str | None
    messages: list[MessageLine]


def services(session: Session) -> list[Choice]:
    """The town's services a family may write to, by entity."""
    rows = session.execute(
        select(Service.id, Service.name, Entity.name.label("entity"))
        .join(Entity, Entity.id == Service.entity_id)
        .order_by(Entity.name, Service.name, Service.id)
    )
    return [Choice(row.id, f"{row.name} ({row.entity})") for row in rows]


def demandes(session: Session, foyer_id: int) -> list[Choice]:
    """The foyer's sent demandes, which a thread may be about, newest first."""
    rows = session.execute(
        select(Demande.id, Demande.number, ProcedureVersion.title)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(Demande.foyer_id == foyer_id, Demande.number.is_not(None))
        .order_by(Demande.id.desc())
    )
    return [Choice(row.id, f"{row.title} — {row.number}") for row in rows]


def shareable_documents(session: Session, foyer_id: int) -> list[Choice]:
    """The foyer's current documents, which a message may share."""
    documents = session.scalars(
        select(Document)
        .where(
            Document.foyer_id == foyer_id,
            Document.superseded_at.is_(None),
            Document.state != DocumentState.EXPIRE,
            Document.scan_state != ScanState.INFECTED,
        )
        .order_by(Document.type_code, Document.id)
    ).all()
    return [Choice(document.id, label) for document, label in _labelled(session, documents)]


def family_threads(session: Session, foyer_id: int) -> list[ThreadLine]:
    """The foyer's threads, latest first, with the service's messages it has not read."""
    return _lines(session, Thread.foyer_id == foyer_id, unread_from_family=False)


def service_threads(session: Session, agent: AgentActor) -> list[ThreadLine]:
    """The threads of the agent's services, latest first, with the families' unread messages."""
    return _lines(session, Thread.service_id.in_(agent.service_ids), unread_from_family=True)


def family_unread(session: Session, foyer_id: int) -> int:
    """How many of the services' messages the foyer has not read."""
    return _unread(session, Thread.foyer_id == foyer_id, from_family=False)


def service_unread(session: Session, agent: AgentActor) -> int:
    """How many families' messages no agent of these services has read."""
    return _unread(session, Thread.service_id.in_(agent.service_ids), from_family=True)


def read_as_family(
    session: Session, clock: Clock, family: FamilyReader, thread_id: int
) -> ThreadPage:
    """The foyer's thread; the service's messages in it are now read by the family."""
    thread = family_thread(session, family, thread_id)
    _mark_read(session, clock, thread, from_family=False)
    return _page(session, thread, family_side=True)


def read_as_agent(session: Session, clock: Clock, agent: AgentActor, thread_id: int) -> ThreadPage:
    """A thread of the agent's services; the family's messages in it are now read."""
    thread = agent_thread(session, agent, thread_id)
    _mark_read(session, clock, thread, from_family=True)
    return _page(session, thread, family_side=False)


def _mark_read(session: Session, clock: Clock, thread: Thread, from_family: bool) -> None:
    session.execute(
        update(Message)
        .where(
            Message.thread_id == thread.id,
            Message.from_family.is_(from_family),
            Message.read_at.is_(None),
        )
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.expire(thread)


def _unread_counts(from_family: bool) -> Select[int, int]:
    return (
        select(Message.thread_id, func.count(Message.id).label("unread"))
        .where(Message.from_family.is_(from_family), Message.read_at.is_(None))
        .group_by(Message.thread_id)
    )


def _lines(
    session: Session, which: ColumnElement[bool], unread_from_family: bool
) -> list[ThreadLine]:
    unread = _unread_counts(unread_from_family).subquery()
    rows = session.execute(
        select(
            Thread.id,
            Thread.subject,
            Thread.last_message_at,
            Service.name.label("service"),
            Foyer.label.label("foyer"),
            func.coalesce(unread.c.unread, 0).label("unread"),
        )
        .join(Service, Service.id == Thread.service_id)
        .join(Foyer, Foyer.id == Thread.foyer_id)
        .outerjoin(unread, unread.c.thread_id == Thread.id)
        .where(which)
        .order_by(Thread.last_message_at.desc(), Thread.id.desc())
    )
    return [
        ThreadLine(row.id, row.subject, row.service, row.foyer, row.last_message_at, row.unread)
        for row in rows
    ]


def _unread(session: Session, which: ColumnElement[bool], from_family: bool) -> int:
    count = session.scalar(
        select(func.count(Message.id))
        .join(Thread, Thread.id == Message.thread_id)
        .where(which, Message.from_family.is_(from_family), Message.read_at.is_(None))
    )
    return int(count or 0)


def _page(session: Session, thread: Thread, family_side: bool) -> ThreadPage:
    service = session.get_one(Service, thread.service_id)
    foyer = session.get_one(Foyer, thread.foyer_id)
    messages = session.scalars(
        select(Message).where(Message.thread_id == thread.id).order_by(Message.id)
    ).all()
    authors = _authors(session, {m.author_id for m in messages if m.author_id is not None})
    attachments = _attachments(session, thread.id)
    lines = [
        MessageLine(
            id=message.id,
            from_family=message.from_family,
            author=_author(message, authors, service.name, family_side),
            body=message.body,
            sent_at=message.sent_at,
            read_at=message.read_at,
            attachments=attachments.get(message.id, []),
        )
        for message in messages
    ]
    return ThreadPage(
        thread.id, thread.subject, service.name, foyer.label, _demande(session, thread), lines
    )


def _author(message: Message, authors: dict[int, str], service: str, family_side: bool) -> str:
    # The family reads the service's name, never the agent's (as in a demande's history).
    if family_side and not message.from_family:
        return service
    return authors.get(message.author_id or 0, "")


def _authors(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids)))
    return {row.id: row.display_name for row in rows}


def _attachments(session: Session, thread_id: int) -> dict[int, list[AttachmentLine]]:
    rows = session.execute(
        select(Attachment.message_id, Document)
        .join(Document, Document.id == Attachment.document_id)
        .join(Message, Message.id == Attachment.message_id)
        .where(Message.thread_id == thread_id)
        .order_by(Attachment.message_id, Document.id)
    ).all()
    grants = consent.of_thread(session, thread_id)
    labels = dict(_labelled(session, [row.Document for row in rows]))
    by_message: dict[int, list[AttachmentLine]] = {}
    for message_id, document in rows:
        grant = grants.get(document.id)
        shared = grant is not None and grant.revoked_at is None
        withdrawn_at = None if grant is None else grant.revoked_at
        line = AttachmentLine(document.id, labels[document], shared, withdrawn_at)
        by_message.setdefault(message_id, []).append(line)
    return by_message


def _labelled(session: Session, documents: Iterable[Document]) -> list[tuple[Document, str]]:
    documents = list(documents)
    kinds = configured_types(session, {document.type_code for document in documents})
    return [(d, f"{kinds[d.type_code].label} — {d.original_name}") for d in documents]


def _demande(session: Session, thread: Thread) -> str | None:
    if thread.demande_id is None:
        return None
    row = session.execute(
        select(Demande.number, ProcedureVersion.title)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(Demande.id == thread.demande_id)
    ).one_or_none()
    return None if row is None else f"{row.number} ({row.title})"
