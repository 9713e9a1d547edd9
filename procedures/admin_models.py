"""The administrative journal: every change an administrator makes, with its before and after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coffre.db import Base


class AdminJournalEntry(Base):
    """One administrative change: who, when, on what, and the target's state before and after.

    `before` and `after` are JSON objects of the fields that matter to a reader (names,
    services, flags); never a password, a token or a second-factor secret.
    """

    __tablename__ = "admin_journal"
    # The journal page lists an entity's changes, newest first.
    __table_args__ = (Index("ix_admin_journal_entity_id_at", "entity_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # The entity the change belongs to; None for an installation-wide change.
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("entities.id"))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(60))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
