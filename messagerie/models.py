"""The tables of messaging: threads between a foyer and a service, messages, attachments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base


class Thread(Base):
    """A conversation between a foyer and one of the town's services, maybe about a demande."""

    __tablename__ = "message_threads"
    # The family's page and the service's page list their threads, latest message first.
    __table_args__ = (
        Index("ix_message_threads_foyer_last", "foyer_id", "last_message_at"),
        Index("ix_message_threads_service_last", "service_id", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    demande_id: Mapped[int | None] = mapped_column(ForeignKey("demandes.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime]
    last_message_at: Mapped[datetime]

    messages: Mapped[list[Message]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    """One message of a thread, written by the family or by an agent of the service.

    `read_at` is when the other side first opened the thread after it was written: the
    read receipt ("Lu le ...") its author sees.
    """

    __tablename__ = "messages"
    # The unread counts: messages of one side nobody of the other side has opened yet.
    __table_args__ = (Index("ix_messages_thread_unread", "thread_id", "from_family", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_threads.id", ondelete="CASCADE"))
    from_family: Mapped[bool] = mapped_column(Boolean)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    thread: Mapped[Thread] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Attachment.document_id"
    )


class Attachment(Base):
    """A document of the foyer's vault attached to a message (its consent: coffre.messaging)."""

    __tablename__ = "message_attachments"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    message: Mapped[Message] = relationship(back_populates="attachments")
