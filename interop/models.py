"""API clients of an entity, their access tokens, and the journal of their calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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


class WebhookEndpoint(Base):
    """An address of an entity's system told of events (demande accepted, invoice issued...).

    Its signing secret is never stored: it is derived from the portal's SECRET_KEY and this
    endpoint's salt (`interop.webhooks.secret_of`), shown once, and changed with a new salt.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[str] = mapped_column(String(500))  # space-separated event names
    salt: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class WebhookDelivery(Base):
    """One event to send to one endpoint: written when the event is seen, sent by the worker,
    tried again with back-off until it is taken (2xx) or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_key", name="uq_webhook_deliveries_endpoint_event"),
        Index("ix_webhook_deliveries_due", "delivered_at", "failed_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # the receiver's idempotency key
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(80))  # the source row: "demande_event:12"
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))  # a class name, never a body
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class WebhookCursor(Base):
    """How far the worker has read one source of events (the last row id it turned into
    deliveries)."""

    __tablename__ = "webhook_cursors"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
