"""API clients: created per entity with scopes, their secret shown once; tokens; the calls' journal.

A client is another system of the town (its family back office, its finance software). It
authenticates with OAuth 2 client credentials and acts for its entity: it sees what the
entity's services see, through the same checks as their agents.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.models import Account, Entity, Role, Service
from accounts.organisation import NotFound, administrator, record
from coffre.clock import Clock
from interop.models import ApiCall, ApiClient, ApiToken
from procedures.tasks import AgentActor

# What a client may be allowed; a token carries the part of them it asked for.
SCOPES: dict[str, str] = {
    "demandes:read": "Lire les demandes, leur historique, l'enfant et le foyer concernés",
    "demandes:write": "Traiter une étape, enregistrer une décision, écrire à la famille",
    "documents:read": "Lire les justificatifs partagés pour une demande, le temps du consentement",
    "foyers:read": "Lire les foyers et leurs membres connus des services",
    "reservations:read": "Lire les inscriptions, réservations et présences",
    "facturation:read": "Lire les factures et les paiements",
}
TOKEN_LIFETIME = timedelta(hours=1)
# A client never holds more live tokens than this: the oldest go first.
MAX_LIVE_TOKENS = 20


class ClientError(Exception):
    """A client could not be created or changed; the message is for the administrator."""


class UnknownEntity(ClientError):
    pass


class UnknownScope(ClientError):
    pass


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    secret: str  # shown once, never stored


@dataclass(frozen=True)
class Caller:
    """Who is calling: a client, for its entity, with the scopes of its token."""

    client_pk: int
    client_id: str
    account_id: int
    entity_id: int
    service_ids: frozenset[int]
    scopes: frozenset[str]

    def as_agent(self) -> AgentActor:
        """The client seen by procedures and the vault: a member of all its entity's services."""
        return AgentActor(self.account_id, self.service_ids)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def parse_scopes(text: str) -> list[str]:
    """The scopes named, in order and once each; UnknownScope names one that does not exist."""
    names = [name for name in text.replace(",", " ").split() if name]
    unknown = [name for name in names if name not in SCOPES]
    if unknown:
        known = ", ".join(SCOPES)
        raise UnknownScope(f"portées inconnues : {', '.join(unknown)} (connues : {known})")
    if not names:
        raise UnknownScope(f"aucune portée : nommez-en au moins une parmi {', '.join(SCOPES)}")
    return list(dict.fromkeys(names))


def create_client(
    session: Session,
    clock: Clock,
    *,
    entity_slug: str,
    name: str,
    scopes: str,
    created_by: int | None = None,
) -> NewClient:
    """A client of the entity with these scopes, and its secret (to give once); commits."""
    entity = session.scalar(select(Entity).where(Entity.slug == entity_slug.strip()))
    if entity is None:
        raise UnknownEntity(f"aucune entité de code « {entity_slug} »")
    granted = parse_scopes(scopes)
    label = " ".join(name.split())[:150] or "Logiciel"
    client_id = f"pf_{secrets.token_hex(12)}"
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    account = Account(
        email=f"{client_id}@clients.invalid",
        password_hash="!",  # noqa: S106  (matches no password: never signs in on a page)
        role=Role.LOGICIEL,
        display_name=f"{label} (logiciel de {entity.name})"[:200],
        entity_id=entity.id,
        created_at=now,
    )
    session.add(account)
    session.flush()
    client = ApiClient(
        client_id=client_id,
        secret_digest=digest(secret),
        name=label,
        entity_id=entity.id,
        account_id=account.id,
        scopes=" ".join(granted),
        created_at=now,
        created_by=created_by,
    )
    session.add(client)
    session.commit()
    return NewClient(client, secret)


def revoke_client(session: Session, clock: Clock, client_id: str) -> ApiClient:
    """End a client: its tokens stop working at once; commits."""
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        raise ClientError(f"aucun client « {client_id} »")
    if client.revoked_at is None:
        client.revoked_at = clock.now()
        client.account.is_active = False
        session.execute(delete(ApiToken).where(ApiToken.client_pk == client.id))
    session.commit()
    return client


def clients_of(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.id)))


def authenticate(session: Session, client_id: str, secret: str) -> ApiClient | None:
    """The live client these credentials name, or None (whatever was wrong)."""
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    expected = client.secret_digest if client is not None else digest(secrets.token_hex(16))
    if not hmac.compare_digest(expected, digest(secret)):
        return None
    if client is None or client.revoked_at is not None:
        return None
    return client


def find_client(session: Session, client_id: str) -> ApiClient | None:
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    return client if client is not None and client.revoked_at is None else None


def store_token(
    session: Session, clock: Clock, client: ApiClient, token: str, scopes: str
) -> ApiToken:
    """Keep the token's digest; expired tokens and those beyond the client's quota go; commits."""
    now = clock.now()
    session.execute(delete(ApiToken).where(ApiToken.expires_at <= now))
    live = session.scalars(
        select(ApiToken.id)
        .where(ApiToken.client_pk == client.id)
        .order_by(ApiToken.issued_at.desc(), ApiToken.id.desc())
        .offset(MAX_LIVE_TOKENS - 1)
    ).all()
    if live:
        session.execute(delete(ApiToken).where(ApiToken.id.in_(live)))
    row = ApiToken(
        digest=digest(token),
        client_pk=client.id,
        scopes=scopes,
        issued_at=now,
        expires_at=now + TOKEN_LIFETIME,
    )
    session.add(row)
    session.commit()
    return row


def caller_of(session: Session, clock: Clock, token: str) -> Caller | None:
    """Who holds this bearer token, if it is live and its client too."""
    row = session.scalar(select(ApiToken).where(ApiToken.digest == digest(token)))
    if row is None or row.expires_at <= clock.now():
        return None
    client = row.client
    if client.revoked_at is not None:
        return None
    service_ids = frozenset(
        session.scalars(select(Service.id).where(Service.entity_id == client.entity_id))
    )
    return Caller(
        client_pk=client.id,
        client_id=client.client_id,
        account_id=client.account_id,
        entity_id=client.entity_id,
        service_ids=service_ids,
        scopes=frozenset(row.scopes.split()),
    )


def record_call(
    session: Session,
    at: datetime,
    caller: Caller,
    *,
    method: str,
    operation: str,
    resource: str,
    status: int,
) -> None:
    """Journal one call (client, operation, resource, time, answer); commits."""
    session.add(
        ApiCall(
            client_pk=caller.client_pk, at=at, method=method, operation=operation[:80],
            resource=resource[:300], status=status,
        )
    )  # fmt: skip
    session.commit()


def calls_of(session: Session, client_pk: int, limit: int = 100) -> list[ApiCall]:
    return list(
        session.scalars(
            select(ApiCall)
            .where(ApiCall.client_pk == client_pk)
            .order_by(ApiCall.at.desc(), ApiCall.id.desc())
            .limit(limit)
        )
    )


def create_client_as_admin(
    session: Session, clock: Clock, actor_id: int, *, entity_id: int, name: str, scopes: str
) -> NewClient:
    """A client of an entity in the administrator's reach, journaled; commits."""
    actor = administrator(session, actor_id)
    entity = session.get(Entity, entity_id)
    if entity is None or not actor.reaches(entity.id):
        raise NotFound()
    if not name.strip():
        raise ClientError("Donnez le nom du logiciel.")
    new = create_client(
        session, clock, entity_slug=entity.slug, name=name, scopes=scopes, created_by=actor.id
    )
    record(
        session, clock, actor, action="api_client.created", target=("api_client", new.client.id),
        entity_id=entity.id, before=None,
        after={"client_id": new.client.client_id, "scopes": new.client.scopes},
    )  # fmt: skip
    session.commit()
    return new


def clients_in_reach(session: Session, actor_id: int) -> list[ApiClient]:
    actor = administrator(session, actor_id)
    query = select(ApiClient).order_by(ApiClient.id)
    if not actor.is_global:
        query = query.where(ApiClient.entity_id == actor.entity_id)
    return list(session.scalars(query))


def client_in_reach(session: Session, actor_id: int, client_pk: int) -> ApiClient:
    actor = administrator(session, actor_id)
    client = session.get(ApiClient, client_pk)
    if client is None or not actor.reaches(client.entity_id):
        raise NotFound()
    return client


def revoke_as_admin(session: Session, clock: Clock, actor_id: int, client_pk: int) -> ApiClient:
    """Revoke a client in the administrator's reach, journaled; commits."""
    client = client_in_reach(session, actor_id, client_pk)
    if client.revoked_at is None:
        record(
            session, clock, administrator(session, actor_id), action="api_client.revoked",
            target=("api_client", client.id), entity_id=client.entity_id, before=None, after=None,
        )  # fmt: skip
    return revoke_client(session, clock, client.client_id)
