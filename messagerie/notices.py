"""The e-mail telling the other side of a thread that a new message waits for it.

Nothing of the message is in the e-mail, neither its subject nor its text: who wrote (the
service's name; "a family" for the agents) and a link to the thread behind the login. One
notice per waiting conversation, not per message: a side is told of the first message it
has not read yet, and again only once it has read the thread.

The service's agents are told too: a family's message makes no task in their inbox, so
without the e-mail it could wait unseen until an agent happens to open the messages page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Account, AgentService, Role, Service
from coffre.clock import Clock
from messagerie.models import Message, Thread
from notifications import outbox
from notifications.templates import THREAD_MESSAGE_AGENT_TEMPLATE, THREAD_MESSAGE_TEMPLATE


@dataclass(frozen=True)
class Links:
    """Builders of a thread's public address (from BASE_URL), in each side's space."""

    family: Callable[[int], str]
    agent: Callable[[int], str]


def tell_family(
    session: Session, clock: Clock, thread: Thread, message: Message, links: Links
) -> int:
    """Queue the notice to each adult of the foyer, unless one is already waiting unread."""
    if _others_unread(session, message):
        return 0
    service = session.get_one(Service, thread.service_id)
    adults = session.scalars(
        select(Account.email).where(
            Account.foyer_id == thread.foyer_id,
            Account.role == Role.FAMILLE,
            Account.is_active.is_(True),
        )
    ).all()
    context = {"service": service.name, "lien": links.family(thread.id)}
    return _enqueue(session, clock, message, adults, THREAD_MESSAGE_TEMPLATE, context)


def tell_service(
    session: Session, clock: Clock, thread: Thread, message: Message, links: Links
) -> int:
    """Queue the notice to each agent of the thread's service, unless one is already waiting."""
    if _others_unread(session, message):
        return 0
    service = session.get_one(Service, thread.service_id)
    agents = session.scalars(
        select(Account.email)
        .join(AgentService, AgentService.account_id == Account.id)
        .where(
            AgentService.service_id == thread.service_id,
            Account.role == Role.AGENT,
            Account.is_active.is_(True),
        )
    ).all()
    context = {"service": service.name, "lien": links.agent(thread.id)}
    return _enqueue(session, clock, message, agents, THREAD_MESSAGE_AGENT_TEMPLATE, context)


def _others_unread(session: Session, message: Message) -> bool:
    """Whether an earlier message of the same side still waits for the other side."""
    earlier = session.scalar(
        select(func.count(Message.id)).where(
            Message.thread_id == message.thread_id,
            Message.from_family.is_(message.from_family),
            Message.read_at.is_(None),
            Message.id != message.id,
        )
    )
    return bool(earlier)


def _enqueue(
    session: Session,
    clock: Clock,
    message: Message,
    recipients: Sequence[str],
    template: str,
    context: dict[str, str],
) -> int:
    queued = 0
    for email in recipients:
        queued += outbox.enqueue(
            session,
            clock,
            key=f"messagerie:{message.id}:{email}",
            recipient=email,
            template=template,
            context=context,
        )
    return queued
