"""Targeted news: a supervisor writes to the foyers chosen by criteria (messagerie.audience).

Sending records the news and the foyers it reaches, at once shown in their spaces; the
worker then queues its e-mails through the outbox a batch of foyers at a time
(`mail_pending`), to every active adult of each foyer who has not opted out of news
(messagerie.news_subscription). The opt-out stops news only: the notices the law or a demande
requires (deadlines, decisions, the vault's notices) never read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, func, insert, select, update
from sqlalchemy.orm import Session

from accounts.models import Account, AgentService, Service
from coffre.clock import Clock, local_today
from messagerie import audience, news_subscription
from messagerie.audience import Criteria, Reach
from messagerie.news_models import News, NewsRecipient
from notifications.outbox import enqueue
from notifications.templates import NEWS_TEMPLATE

MAX_TITLE = 200
MAX_BODY = 10_000
# Foyers whose e-mails one pass of the worker queues: a small transaction each, and the
# outbox's own pace for the sending.
BATCH = 200
# The family's pages, as the e-mails link to them (web.messagerie checks its routes match).
NEWS_PATH = "/famille/actualites/{id}"


class NewsError(Exception):
    """A news item that cannot be written or read; `message` is French, for the page."""

    message = "Cette actualité ne peut pas être envoyée."


class NewsRefused(NewsError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NewsNotFound(NewsError):
    """Not a news item this reader may see: never says whether it exists."""


class NotSupervisor(NewsError):
    message = "Seul un responsable du service peut envoyer une actualité en son nom."


@dataclass(frozen=True)
class Author:
    """The agent writing: an account and the services it supervises."""

    account_id: int
    supervised_service_ids: frozenset[int]


@dataclass(frozen=True)
class Draft:
    service_id: int
    title: str
    body: str
    criteria: Criteria


@dataclass(frozen=True)
class Links:
    """What the e-mails' links are made of: BASE_URL and the secret signing opt-out links."""

    base_url: str
    secret_key: str


def preview(
    session: Session, clock: Clock, criteria: Criteria, service_id: int | None = None
) -> Reach:
    """How many foyers (and adults by e-mail) the criteria reach now, among those the
    service's entity may write to; InvalidCriteria for a value the data does not hold."""
    audience.check(session, criteria)
    return audience.reach(session, local_today(clock), criteria, service_id)


def publish(session: Session, clock: Clock, author: Author, draft: Draft) -> News:
    """Record the news and the foyers it reaches (shown in their spaces at once); the worker
    e-mails them. Commits."""
    if draft.service_id not in author.supervised_service_ids:
        raise NotSupervisor()
    title, body = draft.title.strip(), draft.body.strip()
    if not title or len(title) > MAX_TITLE:
        raise NewsRefused(f"Donnez un titre d'au plus {MAX_TITLE} caractères.")
    if not body or len(body) > MAX_BODY:
        raise NewsRefused(f"Écrivez un texte d'au plus {MAX_BODY} caractères.")
    audience.check(session, draft.criteria)
    today = local_today(clock)
    foyer_ids = session.scalars(
        audience.foyers(session, today, draft.criteria, draft.service_id)
    ).all()
    if not foyer_ids:
        raise NewsRefused("Aucune famille ne correspond à ces critères.")
    news = News(
        service_id=draft.service_id,
        author_id=author.account_id,
        title=title,
        body=body,
        criteria=draft.criteria.to_json(),
        audience=audience.describe(draft.criteria, audience.choices(session))[:500],
        sent_at=clock.now(),
        foyers_count=len(foyer_ids),
    )
    session.add(news)
    session.flush()
    session.execute(insert(NewsRecipient), [{"news_id": news.id, "foyer_id": f} for f in foyer_ids])
    session.commit()
    return news


def mail_pending(session: Session, clock: Clock, links: Links, batch: int = BATCH) -> int:
    """Queue the e-mails of up to `batch` foyers not e-mailed yet, oldest news first; returns
    how many foyers were handled. Commits (the worker runs it again for the rest)."""
    recipients = session.scalars(
        select(NewsRecipient)
        .where(NewsRecipient.mailed_at.is_(None))
        .order_by(NewsRecipient.news_id, NewsRecipient.foyer_id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for recipient in recipients:
        _mail_foyer(session, clock, links, recipient)
        recipient.mailed_at = clock.now()
    session.flush()
    for news_id in {recipient.news_id for recipient in recipients}:
        _close_if_mailed(session, clock, news_id)
    session.commit()
    return len(recipients)


def _mail_foyer(session: Session, clock: Clock, links: Links, recipient: NewsRecipient) -> None:
    news = recipient.news
    service = session.get_one(Service, news.service_id)
    base = links.base_url.rstrip("/")
    adults = session.scalars(
        select(Account)
        .where(Account.foyer_id == recipient.foyer_id, *audience.receives_news())
        .order_by(Account.id)
    )
    for account in adults:
        token = news_subscription.unsubscribe_token(links.secret_key, account.id)
        enqueue(
            session,
            clock,
            key=f"news:{news.id}:{account.id}",
            recipient=account.email,
            template=NEWS_TEMPLATE,
            context={
                "service": service.name,
                "titre": news.title,
                "texte": news.body,
                "lien": base + NEWS_PATH.format(id=news.id),
                "desabonnement": base + news_subscription.UNSUBSCRIBE_PATH.format(token=token),
            },
        )


def _close_if_mailed(session: Session, clock: Clock, news_id: int) -> None:
    left = session.scalar(
        select(func.count())
        .select_from(NewsRecipient)
        .where(NewsRecipient.news_id == news_id, NewsRecipient.mailed_at.is_(None))
    )
    if not left:
        session.execute(
            update(News)
            .where(News.id == news_id, News.mailed_at.is_(None))
            .values(mailed_at=clock.now())
        )


# --- the family's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyNews:
    id: int
    title: str
    body: str
    service: str
    sent_at: datetime
    read: bool


def of_foyer(session: Session, foyer_id: int) -> list[FamilyNews]:
    """The news addressed to the foyer, newest first."""
    rows = session.execute(_family_query(foyer_id).order_by(News.sent_at.desc(), News.id.desc()))
    return [_family_news(row) for row in rows]


def unread_count(session: Session, foyer_id: int) -> int:
    """How many news addressed to the foyer no adult of it opened yet."""
    count = session.scalar(
        select(func.count())
        .select_from(NewsRecipient)
        .where(NewsRecipient.foyer_id == foyer_id, NewsRecipient.read_at.is_(None))
    )
    return count or 0


def read(
    session: Session, clock: Clock, foyer_id: int, news_id: int, *, by_family: bool
) -> FamilyNews:
    """One news item addressed to the foyer (NewsNotFound otherwise); opened by an adult of
    the foyer (`by_family`, not an agent at the counter), it is marked read. Commits."""
    row = session.execute(_family_query(foyer_id).where(News.id == news_id)).first()
    if row is None:
        raise NewsNotFound()
    if by_family and row[4] is None:
        session.execute(
            update(NewsRecipient)
            .where(NewsRecipient.news_id == news_id, NewsRecipient.foyer_id == foyer_id)
            .values(read_at=clock.now())
        )
        session.commit()
    return _family_news(row)


def _family_query(foyer_id: int) -> Select[int, str, str, datetime, datetime | None, str]:
    return (
        select(
            News.id,
            News.title,
            News.body,
            News.sent_at,
            NewsRecipient.read_at,
            Service.name.label("service"),
        )
        .join(NewsRecipient, NewsRecipient.news_id == News.id)
        .join(Service, Service.id == News.service_id)
        .where(NewsRecipient.foyer_id == foyer_id)
    )


def _family_news(row: Row[int, str, str, datetime, datetime | None, str]) -> FamilyNews:
    news_id, title, body, sent_at, read_at, service = row
    return FamilyNews(
        id=news_id, title=title, body=body, service=service, sent_at=sent_at,
        read=read_at is not None,
    )  # fmt: skip


# --- the services' side ---------------------------------------------------------------------


@dataclass(frozen=True)
class SentNews:
    news: News
    service: str
    mailed_foyers: int
    read_foyers: int


def supervised_services(session: Session, account_id: int) -> Sequence[Service]:
    """The services the agent supervises, in whose name it may send news."""
    return session.scalars(
        select(Service)
        .join(AgentService, AgentService.service_id == Service.id)
        .where(AgentService.account_id == account_id, AgentService.is_supervisor.is_(True))
        .order_by(Service.name)
    ).all()


def sent_by(session: Session, author: Author) -> list[SentNews]:
    """The news of the services the agent supervises, newest first."""
    news = session.scalars(
        select(News)
        .where(News.service_id.in_(author.supervised_service_ids))
        .order_by(News.sent_at.desc(), News.id.desc())
    ).all()
    return [_sent(session, item) for item in news]


def sent_one(session: Session, author: Author, news_id: int) -> SentNews:
    """One news item of a service the agent supervises (NewsNotFound otherwise)."""
    news = session.get(News, news_id)
    if news is None or news.service_id not in author.supervised_service_ids:
        raise NewsNotFound()
    return _sent(session, news)


def _sent(session: Session, news: News) -> SentNews:
    counts = session.execute(
        select(func.count(NewsRecipient.mailed_at), func.count(NewsRecipient.read_at)).where(
            NewsRecipient.news_id == news.id
        )
    ).one()
    return SentNews(
        news=news,
        service=session.get_one(Service, news.service_id).name,
        mailed_foyers=counts[0],
        read_foyers=counts[1],
    )
