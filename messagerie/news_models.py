"""The tables of targeted news: a news item, the foyers it reaches, the adults who opted out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base


class News(Base):
    """A news item a service sent to the foyers its criteria chose (messagerie.news)."""

    __tablename__ = "news"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # plain text, escaped wherever it is shown
    # The criteria as chosen (JSON of messagerie.audience.Criteria), and as a French sentence.
    criteria: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(500))
    sent_at: Mapped[datetime]
    foyers_count: Mapped[int] = mapped_column(Integer)
    # When the worker had queued the e-mails of every foyer (messagerie.news.mail_pending).
    mailed_at: Mapped[datetime | None]

    recipients: Mapped[list[NewsRecipient]] = relationship(
        back_populates="news", cascade="all, delete-orphan"
    )


class NewsRecipient(Base):
    """A foyer a news item is addressed to: what its space lists, and whether it was e-mailed."""

    __tablename__ = "news_recipients"
    __table_args__ = (
        # The worker's batches: the foyers not e-mailed yet, news after news.
        Index("ix_news_recipients_mailing", "mailed_at", "news_id", "foyer_id"),
    )

    news_id: Mapped[int] = mapped_column(
        ForeignKey("news.id", ondelete="CASCADE"), primary_key=True
    )
    foyer_id: Mapped[int] = mapped_column(
        ForeignKey("foyers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    mailed_at: Mapped[datetime | None]
    # First opened by an adult of the foyer: the list marks the others as new.
    read_at: Mapped[datetime | None]

    news: Mapped[News] = relationship(back_populates="recipients")


class NewsOptOut(Base):
    """An adult who asked not to receive news by e-mail (never the notices the law requires).

    The news still shows in the foyer's space: only the e-mail stops."""

    __tablename__ = "news_opt_outs"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime]
