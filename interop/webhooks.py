"""Webhooks: an entity's systems told of events, signed, retried with back-off, logged.

The worker reads each source of events past its cursor (the demandes' history, the vault's
journal, invoices, the ledger's payments), writes one delivery per subscribed endpoint of the
entities concerned (the outbox pattern: a row first, the network after), then sends the due
ones. A receiver checks the `Portail-Signature` header:

    Portail-Signature: t=1733500000,v1=<hex HMAC-SHA256(secret, "1733500000." + body)>

and refuses a `t` more than `REPLAY_WINDOW` seconds away from its own clock; `Portail-Delivery`
is the same on every retry of one delivery (its idempotency key).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from accounts.models import Entity, Service
from accounts.organisation import Administrator, NotFound, administrator, record
from coffre.clock import Clock
from coffre.models import DemandeAccess, Document, JournalEntry
from facturation.models import EntryKind, Invoice, LedgerEntry, Payment, PaymentInvoice
from interop import views
from interop.clients import Caller
from interop.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from procedures.errors import DemandeNotFound
from procedures.models import Demande, DemandeEvent, DemandeStatus

EVENTS: dict[str, str] = {
    "demande.deposee": "Demande déposée",
    "demande.acceptee": "Demande acceptée",
    "demande.refusee": "Demande refusée",
    "document.partage": "Justificatif partagé pour une demande",
    "document.retire": "Partage d'un justificatif retiré",
    "facture.emise": "Facture émise",
    "paiement.recu": "Paiement reçu",
}
REPLAY_WINDOW = 300  # seconds
# After the 1st, 2nd... failed attempt, wait this long; after the last, give up.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
TIMEOUT_SECONDS = 5
# Rows written less than this long ago are left for the next round: a transaction that took a
# lower id may still be committing.
SETTLE = timedelta(seconds=5)
BATCH = 200


class WebhookError(Exception):
    """An endpoint refused as given; the message is for the administrator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


@dataclass(frozen=True)
class Event:
    """An event read from its source: what happened, for which entities, with what data."""

    name: str
    key: str
    entity_ids: frozenset[int]
    data: Callable[[int], Mapping[str, Any]]  # the payload's data, as the entity sees it


# --- endpoints ---------------------------------------------------------------------------


def secret_of(secret_key: str, endpoint: WebhookEndpoint) -> str:
    """The endpoint's signing secret, derived from the portal's key and its salt."""
    return hmac.new(secret_key.encode(), f"webhook:{endpoint.salt}".encode(), "sha256").hexdigest()


def check_url(url: str, *, production: bool) -> str:
    """An absolute http(s) address without credentials; https only in production, unless the
    receiver is on this machine."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("Indiquez une adresse complète, commençant par https://.")
    if parts.username or parts.password:
        raise WebhookError("L'adresse ne doit pas contenir d'identifiant ni de mot de passe.")
    if len(url) > 500:
        raise WebhookError("L'adresse est trop longue (500 caractères au plus).")
    if production and parts.scheme != "https" and not _loopback(parts.hostname):
        raise WebhookError("En production, l'adresse doit commencer par https://.")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_events(names: Iterable[str]) -> list[str]:
    chosen = [name for name in EVENTS if name in set(names)]
    if not chosen:
        raise WebhookError("Choisissez au moins un événement.")
    return chosen


def create_endpoint(
    session: Session,
    clock: Clock,
    actor_id: int,
    *,
    entity_id: int,
    url: str,
    events: Iterable[str],
    secret_key: str,
    production: bool,
) -> NewEndpoint:
    """A new endpoint of an entity in the administrator's reach, and its secret; commits."""
    actor = administrator(session, actor_id)
    entity = session.get(Entity, entity_id)
    if entity is None or not actor.reaches(entity.id):
        raise NotFound()
    endpoint = WebhookEndpoint(
        entity_id=entity.id,
        url=check_url(url, production=production),
        events=" ".join(parse_events(events)),
        salt=secrets.token_hex(16),
        active=True,
        created_at=clock.now(),
        created_by=actor.id,
    )
    session.add(endpoint)
    session.flush()
    record(
        session, clock, actor, action="webhook.created", target=("webhook", endpoint.id),
        entity_id=entity.id, before=None, after={"url": endpoint.url, "events": endpoint.events},
    )  # fmt: skip
    session.commit()
    return NewEndpoint(endpoint, secret_of(secret_key, endpoint))


def endpoint_in_reach(session: Session, actor_id: int, endpoint_id: int) -> WebhookEndpoint:
    actor = administrator(session, actor_id)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not actor.reaches(endpoint.entity_id):
        raise NotFound()
    return endpoint


def set_active(
    session: Session, clock: Clock, actor_id: int, endpoint_id: int, active: bool
) -> WebhookEndpoint:
    """Pause or resume an endpoint: paused, it is given nothing new; commits."""
    endpoint = endpoint_in_reach(session, actor_id, endpoint_id)
    if endpoint.active != active:
        endpoint.active = active
        record(
            session, clock, administrator(session, actor_id),
            action="webhook.resumed" if active else "webhook.paused",
            target=("webhook", endpoint.id), entity_id=endpoint.entity_id,
            before={"active": not active}, after={"active": active},
        )  # fmt: skip
    session.commit()
    return endpoint


def rotate_secret(
    session: Session, clock: Clock, actor_id: int, endpoint_id: int, secret_key: str
) -> str:
    """A new secret for the endpoint (the old one stops signing at once); commits."""
    endpoint = endpoint_in_reach(session, actor_id, endpoint_id)
    endpoint.salt = secrets.token_hex(16)
    record(
        session, clock, administrator(session, actor_id), action="webhook.secret_rotated",
        target=("webhook", endpoint.id), entity_id=endpoint.entity_id, before=None, after=None,
    )  # fmt: skip
    session.commit()
    return secret_of(secret_key, endpoint)


def endpoints_of(session: Session, actor: Administrator) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    if not actor.is_global:
        query = query.where(WebhookEndpoint.entity_id == actor.entity_id)
    return list(session.scalars(query))


def deliveries_of(session: Session, endpoint_id: int, limit: int = 100) -> list[WebhookDelivery]:
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


# --- signing -----------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, window: int = REPLAY_WINDOW) -> bool:
    """What a receiver does: the signature matches the body and its time is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp = fields.get("t", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > window:
        return False
    expected = sign(secret, body, int(stamp)).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# --- from events to deliveries -----------------------------------------------------------


def collect(session: Session, clock: Clock) -> int:
    """Turn the events past each source's cursor into deliveries; returns how many; commits."""
    made = 0
    before = clock.now() - SETTLE
    for source, read in SOURCES.items():
        cursor = _cursor(session, source)
        rows = read(session, cursor.last_id, before)
        for last_id, event in rows:
            if event is not None:
                made += _deliveries(session, clock, event)
            cursor.last_id = last_id
        session.commit()
    return made


def _cursor(session: Session, source: str) -> WebhookCursor:
    """The source's cursor; a new one starts at the present (no flood of past events)."""
    cursor = session.get(WebhookCursor, source)
    if cursor is None:
        table = SOURCE_TABLES[source]
        cursor = WebhookCursor(
            source=source, last_id=session.scalar(select(func.max(table.id))) or 0
        )
        session.add(cursor)
        session.flush()
    return cursor


def _deliveries(session: Session, clock: Clock, event: Event) -> int:
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.active,
            WebhookEndpoint.entity_id.in_(event.entity_ids or {-1}),
        )
    ).all()
    made = 0
    for endpoint in endpoints:
        if event.name not in endpoint.events.split():
            continue
        uid = secrets.token_hex(16)
        now = clock.now()
        body = {
            "id": uid,
            "event": event.name,
            "created_at": now.isoformat(),
            "data": _jsonable(event.data(endpoint.entity_id)),
        }
        delivery = WebhookDelivery(
            uid=uid, endpoint_id=endpoint.id, event=event.name, event_key=event.key,
            payload=json.dumps(body, ensure_ascii=False, sort_keys=True),
            created_at=now, next_attempt_at=now, attempts=0,
        )  # fmt: skip
        try:
            with session.begin_nested():
                session.add(delivery)
        except IntegrityError:
            continue  # already written (a round that stopped before moving its cursor)
        made += 1
    return made


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


def _same(data: Mapping[str, Any]) -> Callable[[int], Mapping[str, Any]]:
    """The payload's data, the same for every entity told."""
    return lambda entity_id: data


def _caller_for(session: Session, entity_id: int) -> Caller:
    """The entity seen as an API client would be: its services, no account of its own."""
    services = frozenset(session.scalars(select(Service.id).where(Service.entity_id == entity_id)))
    return Caller(0, "", 0, entity_id, services, frozenset())


def _entities_of_demande(session: Session, demande_id: int) -> frozenset[int]:
    return frozenset(
        session.scalars(
            select(Service.entity_id)
            .join(DemandeAccess, DemandeAccess.service_id == Service.id)
            .where(DemandeAccess.demande_id == demande_id)
        )
    )


Found = list[tuple[int, Event | None]]
Row = TypeVar("Row", DemandeEvent, JournalEntry, Invoice, LedgerEntry)


def _rows_after(
    session: Session,
    table: type[Row],
    time_column: InstrumentedAttribute[datetime],
    after: int,
    before: datetime,
) -> Sequence[Row]:
    """A source's next rows: past its cursor, and old enough to have settled."""
    return session.scalars(
        select(table).where(table.id > after, time_column <= before).order_by(table.id).limit(BATCH)
    ).all()  # each row read, and the event it makes (None: none)


def _demande_events(session: Session, after: int, before: datetime) -> Found:
    rows = _rows_after(session, DemandeEvent, DemandeEvent.at, after, before)
    names = {
        DemandeStatus.DEPOSEE.value: "demande.deposee",
        DemandeStatus.ACCEPTEE.value: "demande.acceptee",
        DemandeStatus.REFUSEE.value: "demande.refusee",
    }
    found: Found = []
    for row in rows:
        name = names.get(row.status_to or "")
        event = None
        if name is not None and row.status_from != row.status_to:
            demande_id = row.demande_id

            def data(entity_id: int, demande_id: int = demande_id) -> Mapping[str, Any]:
                try:
                    now = session.get(Demande, demande_id).updated_at  # type: ignore[union-attr]
                    caller = _caller_for(session, entity_id)
                    return {"demande": views.demande(session, caller, demande_id, now)}
                except DemandeNotFound:
                    return {"demande": {"id": demande_id}}

            event = Event(
                name, f"demande_event:{row.id}", _entities_of_demande(session, demande_id), data
            )
        found.append((row.id, event))
    return found


def _consents(session: Session, after: int, before: datetime) -> Found:
    rows = _rows_after(session, JournalEntry, JournalEntry.at, after, before)
    names = {"consent.granted": "document.partage", "consent.revoked": "document.retire"}
    found: Found = []
    for row in rows:
        name = names.get(row.event)
        if name is None or row.demande_id is None or row.document_id is None:
            found.append((row.id, None))
            continue
        document = session.get(Document, row.document_id)
        demande_id = row.demande_id
        payload = {
            "demande_id": demande_id,
            "foyer_id": row.foyer_id,
            "at": row.at,
            "document": views.document_view(document) if document is not None else None,
        }
        found.append(
            (
                row.id,
                Event(
                    name, f"journal:{row.id}", _entities_of_demande(session, demande_id),
                    _same(payload),
                ),
            )
        )  # fmt: skip
    return found


def _invoices(session: Session, after: int, before: datetime) -> Found:
    rows = _rows_after(session, Invoice, Invoice.issued_at, after, before)
    return [
        (
            row.id,
            Event(
                "facture.emise", f"invoice:{row.id}", frozenset({row.entity_id}),
                _same({"facture": views.invoice_view(row)}),
            ),
        )
        for row in rows
    ]  # fmt: skip


def _payments(session: Session, after: int, before: datetime) -> Found:
    rows = _rows_after(session, LedgerEntry, LedgerEntry.at, after, before)
    found: Found = []
    for row in rows:
        payment = session.get(Payment, row.payment_id) if row.payment_id else None
        if row.kind is not EntryKind.PAIEMENT or payment is None:
            found.append((row.id, None))
            continue
        settled = views.payment_view(payment, _invoice_ids(session, payment.id))
        found.append(
            (
                row.id,
                Event(
                    "paiement.recu", f"ledger:{row.id}", frozenset({row.entity_id}),
                    _same({"paiement": settled}),
                ),
            )
        )  # fmt: skip
    return found


def _invoice_ids(session: Session, payment_id: int) -> list[int]:
    return list(
        session.scalars(
            select(PaymentInvoice.invoice_id).where(PaymentInvoice.payment_id == payment_id)
        )
    )


SOURCES: dict[str, Callable[[Session, int, datetime], Found]] = {
    "demande_events": _demande_events,
    "journal": _consents,
    "invoices": _invoices,
    "ledger": _payments,
}
SOURCE_TABLES: dict[str, Any] = {
    "demande_events": DemandeEvent,
    "journal": JournalEntry,
    "invoices": Invoice,
    "ledger": LedgerEntry,
}


# --- sending -----------------------------------------------------------------------------


Post = Callable[[str, bytes, Mapping[str, str]], int]


def http_post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST and return the status; a refused or unreachable receiver raises OSError."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            status: int = answer.status
            return status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def send_due(
    session: Session, clock: Clock, secret_key: str, post: Post = http_post, batch: int = 20
) -> int:
    """Send the due deliveries (oldest first); returns how many were taken; commits each.

    Each delivery is locked (SKIP LOCKED), sent and committed on its own, as the outbox's
    e-mails: two workers never send the same one, and a crash resends at most the one in
    flight (with its `Portail-Delivery` id).
    """
    now = clock.now()
    taken = 0
    unwell: set[int] = set()  # endpoints that failed this round: their others wait
    for _ in range(batch):
        delivery = session.scalar(_next_due(now, unwell))
        if delivery is None:
            break
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        assert endpoint is not None
        body = delivery.payload.encode()
        stamp = int(clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "portail-famille-webhooks/1",
            "Portail-Event": delivery.event,
            "Portail-Delivery": delivery.uid,
            "Portail-Signature": sign(secret_of(secret_key, endpoint), body, stamp),
        }
        delivery.attempts += 1
        try:
            status = post(endpoint.url, body, headers)
            delivery.last_status, delivery.last_error = status, None
        except (OSError, ValueError) as error:
            status, delivery.last_status = 0, None
            delivery.last_error = type(error).__name__
        if 200 <= status < 300:
            delivery.delivered_at = clock.now()
            taken += 1
        else:
            unwell.add(endpoint.id)
            if delivery.attempts > len(BACKOFF):
                delivery.failed_at = clock.now()  # given up: the log shows it
            else:
                delivery.next_attempt_at = clock.now() + BACKOFF[delivery.attempts - 1]
                _hold_others(session, delivery)
        session.commit()
    return taken


def _next_due(now: datetime, unwell: set[int]) -> Select[WebhookDelivery]:
    """The oldest due delivery of a well endpoint, locked; one another worker holds is skipped."""
    query = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.failed_at.is_(None),
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
        .execution_options(populate_existing=True)
    )
    return query.where(WebhookDelivery.endpoint_id.not_in(unwell)) if unwell else query


def _hold_others(session: Session, failed: WebhookDelivery) -> None:
    """A receiver that just failed is not sent the endpoint's other deliveries before the
    failed one's next attempt (they keep their own count of attempts)."""
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == failed.endpoint_id,
            WebhookDelivery.id != failed.id,
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.failed_at.is_(None),
            WebhookDelivery.next_attempt_at < failed.next_attempt_at,
        )
        .values(next_attempt_at=failed.next_attempt_at)
        .execution_options(synchronize_session=False)
    )


def pending(session: Session, endpoint_id: int) -> int:
    """Deliveries of the endpoint neither taken nor given up yet."""
    count = session.scalar(
        select(func.count(WebhookDelivery.id)).where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.failed_at.is_(None),
        )
    )
    return count or 0
