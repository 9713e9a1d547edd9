"""API clients of an entity, their access tokens, and the journal of their calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from coffre.db import Base


class ApiClient(Base):
    """Software of one entity (its back office, its finance system) calling the API.

    It acts through a technical account of role `logiciel`, member of no service: what it may
    see is its entity's services, and its reads are journaled under that account's name.
    The secret is stored as a SHA-256 digest (it is 256 random bits, not a password).
    """

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    scopes: Mapped[str] = mapped_column(String(500))  # space-separated, as OAuth 2 writes them
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship(foreign_keys=[account_id])


class ApiToken(Base):
    """A bearer token issued to a client (client credentials grant), stored as its digest."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(String(500))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    client: Mapped[ApiClient] = relationship()


class ApiCall(Base):
    """One call of a client: which operation on which resource, when, and what it answered."""

    __tablename__ = "api_calls"
    __table_args__ = (Index("ix_api_calls_client_at", "client_pk", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(10))
    operation: Mapped[str] = mapped_column(String(80))  # e.g. "demandes.demande"
    resource: Mapped[str] = mapped_column(String(300))  # the path called, ids included
    status: Mapped[int] = mapped_column(Integer)
