"""The outbox's table: e-mails written with their event, sent later by the worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coffre.db import Base


class OutboxMessage(Base):
    """An e-mail written in the same transaction as the event it tells of, sent later by the worker.

    The idempotency key names the event ("expiry:123:45"), so one event never yields two
    messages; `context` holds, as JSON, only the fields the template needs.
    """

    __tablename__ = "outbox"
    # The worker's query: unsent, not given up, due (send_after <= now).
    __table_args__ = (Index("ix_outbox_due", "sent_at", "failed_at", "send_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(60))
    context: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    send_after: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    # Exception class and SMTP code only: never an address or a server's free text.
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
