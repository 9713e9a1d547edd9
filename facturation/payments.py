"""Paying invoices: online through eopayment (PayFiP's web service in production, its dummy
backend in the demo and the tests), and at the counter (cash, cheque, CESU).

Online, the payment is created server-side (the backend gives a transaction id and the
address to send the family to); nothing is credited on the family's return alone: only a
response the backend vouches for (`signed`: PayFiP's web service is asked for the result,
server to server) credits, once, under a row lock, whether it comes through the
notification or the return, in whichever order. A response for an unknown transaction, an
unsigned one, or one whose amount differs from the payment's credits nothing; each
notification is journaled (`payment_notifications`).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import eopayment
from eopayment.common import PaymentException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Entity
from coffre.clock import Clock, local_today
from facturation.errors import BillingNotFound, BillingRefused
from facturation.ledger import account_of
from facturation.models import (
    EntryKind,
    Invoice,
    InvoiceKind,
    LedgerEntry,
    Payment,
    PaymentInvoice,
    PaymentMethod,
    PaymentNotification,
    PaymentState,
)
from facturation.money import MAX_CENTS, euros

COUNTER_METHODS = (PaymentMethod.ESPECES, PaymentMethod.CHEQUE, PaymentMethod.CESU)


@dataclass(frozen=True)
class Gateway:
    """The payment backend and its options (PayFiP: `numcli`, `saisie`; see the README)."""

    kind: str  # eopayment.PAYFIP_WS or eopayment.DUMMY
    options: Mapping[str, Any]
    # The days of the month payment is open (Marseille: 2 to 12), per entity slug ("": the
    # entities without their own); none: every day.
    windows: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def backend(self, return_url: str, notification_url: str) -> eopayment.Payment:
        options = {
            **self.options,
            "normal_return_url": return_url,
            "automatic_return_url": notification_url,
        }
        return eopayment.Payment(self.kind, options)

    def window_opens(self, today: date, entity: str = "") -> date | None:
        """None when payment to the entity is open today; else the day it next opens."""
        window = self.windows.get(entity, self.windows.get(""))
        if window is None:
            return None
        first, last = window
        if first <= today.day <= last:
            return None
        if today.day < first:
            return today.replace(day=first)
        return (today.replace(day=1) + timedelta(days=32)).replace(day=first)


@dataclass(frozen=True)
class Started:
    payment: Payment
    redirect_url: str


def bank_origin(backend: str) -> str | None:
    """Where the backend's payment pages are (`scheme://host`), to which a family's browser is
    sent to pay; None for none, or for the dummy, whose bank the portal serves itself."""
    if not backend or backend == "dummy":
        return None
    module = importlib.import_module(f"eopayment.{backend}")
    parts = urlsplit(str(getattr(module, "PAYMENT_URL", "")))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def start_online(
    session: Session,
    clock: Clock,
    gateway: Gateway,
    foyer_id: int,
    account_id: int,
    email: str,
    invoice_ids: Sequence[int],
    urls: tuple[str, str],  # the family's return, the server-to-server notification
) -> Started:
    """Create the payment of what is left on the chosen invoices, and where to send the
    family to pay it. Refused: none chosen, another foyer's invoice, one paid or credited,
    two entities at once, outside the payment window."""
    today = local_today(clock)
    chosen = _due(session, foyer_id, invoice_ids, today)
    entity = session.get(Entity, chosen[0][0].entity_id)
    assert entity is not None
    opens = gateway.window_opens(today, entity.slug)
    if opens is not None:
        raise BillingRefused(
            f"Le paiement en ligne à {entity.name} ouvre le {opens.day} du mois ; "
            "revenez à partir de cette date."
        )
    amount = sum(left for _, left in chosen)
    if not 0 < amount <= MAX_CENTS:
        raise BillingRefused("Le montant à payer doit être compris entre 0,01 € et 100 000 €.")
    entity_id = chosen[0][0].entity_id
    backend = gateway.backend(*urls)
    reference, _kind, url = backend.request(
        (Decimal(amount) / 100).quantize(Decimal("0.01")),
        email=email,
        orderid=f"F{foyer_id}-{uuid.uuid4().hex[:8]}",
        subject=", ".join(invoice.number for invoice, _ in chosen),
    )
    payment = Payment(
        foyer_id=foyer_id, entity_id=entity_id, method=PaymentMethod.EN_LIGNE,
        state=PaymentState.EN_COURS, amount_cents=amount, reference=str(reference)[:64],
        created_at=clock.now(), settled_at=None, account_id=account_id,
    )  # fmt: skip
    session.add(payment)
    session.flush()
    session.add_all(
        PaymentInvoice(payment_id=payment.id, invoice_id=invoice.id) for invoice, _ in chosen
    )
    session.commit()
    return Started(payment, str(url))


def _due(
    session: Session, foyer_id: int, invoice_ids: Sequence[int], today: date
) -> list[tuple[Invoice, int]]:
    if not invoice_ids:
        raise BillingRefused("Choisissez au moins une facture à payer.")
    views = {view.invoice.id: view for view in account_of(session, foyer_id, today).invoices}
    chosen = []
    for invoice_id in sorted(set(invoice_ids)):
        view = views.get(invoice_id)
        if view is None or view.invoice.kind is not InvoiceKind.FACTURE:
            raise BillingNotFound("Cette facture est introuvable.")
        if view.left_cents == 0:
            raise BillingRefused(f"La facture {view.invoice.number} est déjà réglée.")
        chosen.append((view.invoice, view.left_cents))
    if len({invoice.entity_id for invoice, _ in chosen}) > 1:
        raise BillingRefused("Payez séparément les factures de chaque organisme.")
    return chosen


@dataclass(frozen=True)
class Outcome:
    credited: bool  # this response credited the payment now
    payment: Payment | None
    reason: str  # for the journal: credite, deja_credite, non_signee, inconnue, montant...


def settle(
    session: Session, clock: Clock, gateway: Gateway, query_string: str, channel: str
) -> Outcome:
    """Take a backend's response (the notification, or the family's return) in: credit the
    payment once if the backend vouches for it. Journaled, whatever the outcome."""
    backend = gateway.backend("", "")
    try:
        response = backend.response(query_string)
    except (PaymentException, ValueError, KeyError) as error:  # a garbled response
        return _journal(session, clock, None, channel, "illisible", type(error).__name__)
    payment = session.scalar(
        select(Payment).where(Payment.reference == str(response.order_id)[:64]).with_for_update()
    )
    if payment is None:
        return _journal(session, clock, None, channel, "inconnue", str(response.order_id)[:64])
    if not response.signed:
        return _journal(session, clock, payment, channel, "non_signee", "")
    if payment.state is PaymentState.PAYE:
        return _journal(session, clock, payment, channel, "deja_credite", "")
    paid = _amount(response.bank_data)
    if paid is not None and paid != payment.amount_cents:
        detail = f"{euros(paid)} au lieu de {euros(payment.amount_cents)}"
        return _journal(session, clock, payment, channel, "montant", detail)
    if response.result != eopayment.PAID:
        payment.state = PaymentState.REFUSE
        return _journal(session, clock, payment, channel, "refusee", str(response.bank_status))
    payment.state, payment.settled_at = PaymentState.PAYE, clock.now()
    session.add(
        LedgerEntry(
            foyer_id=payment.foyer_id, entity_id=payment.entity_id, kind=EntryKind.PAIEMENT,
            amount_cents=-payment.amount_cents, payment_id=payment.id, at=clock.now(),
            account_id=payment.account_id,
        )
    )  # fmt: skip
    outcome = _journal(session, clock, payment, channel, "credite", "")
    return Outcome(True, payment, outcome.reason)


def _amount(bank_data: Mapping[str, Any]) -> int | None:
    """The amount the backend says was paid, in cents, when it says one: PayFiP's `montant`
    (cents), the dummy's `amount` (euros)."""
    if "montant" in bank_data:
        raw, scale = bank_data["montant"], 1
    elif "amount" in bank_data:
        raw, scale = bank_data["amount"], 100
    else:
        return None
    value = raw[0] if isinstance(raw, list) else raw
    try:
        return int(Decimal(str(value)) * scale)
    except (InvalidOperation, ValueError):
        return -1  # garbled: never equal to a payment's amount


def _journal(
    session: Session,
    clock: Clock,
    payment: Payment | None,
    channel: str,
    reason: str,
    detail: str,
) -> Outcome:
    session.add(
        PaymentNotification(
            at=clock.now(), payment_id=payment.id if payment else None, channel=channel,
            outcome=reason, detail=detail[:300],
        )
    )  # fmt: skip
    session.commit()
    return Outcome(False, payment, reason)


def record_at_counter(
    session: Session,
    clock: Clock,
    agent_id: int,
    foyer_id: int,
    method: PaymentMethod,
    invoice_ids: Sequence[int],
    receipt: str,
) -> Payment:
    """Cash, cheque or CESU taken at the counter (régie), with its receipt's number."""
    if method not in COUNTER_METHODS:
        raise BillingRefused("Au guichet : espèces, chèque ou CESU.")
    receipt = receipt.strip()
    if not receipt or len(receipt) > 64:
        raise BillingRefused("Indiquez le numéro du reçu remis à la famille.")
    chosen = _due(session, foyer_id, invoice_ids, local_today(clock))
    payment = Payment(
        foyer_id=foyer_id, entity_id=chosen[0][0].entity_id, method=method,
        state=PaymentState.PAYE, amount_cents=sum(left for _, left in chosen),
        reference=receipt, created_at=clock.now(), settled_at=clock.now(), account_id=agent_id,
    )  # fmt: skip
    session.add(payment)
    session.flush()
    session.add_all(
        PaymentInvoice(payment_id=payment.id, invoice_id=invoice.id) for invoice, _ in chosen
    )
    session.add(
        LedgerEntry(
            foyer_id=foyer_id, entity_id=payment.entity_id, kind=EntryKind.PAIEMENT,
            amount_cents=-payment.amount_cents, payment_id=payment.id, at=clock.now(),
            account_id=agent_id,
        )
    )  # fmt: skip
    session.commit()
    return payment


def refund(
    session: Session,
    clock: Clock,
    account_id: int | None,
    foyer_id: int,
    entity_id: int,
    cents: int,
    reference: str,
) -> Payment:
    """Pay back a foyer in credit with an entity (a credit note after it paid): a payment of
    the entity to the family, at most what the foyer is owed, through the same ledger."""
    reference = reference.strip()
    if not reference or len(reference) > 64:
        raise BillingRefused("Indiquez la référence du remboursement (virement, mandat).")
    balance = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.foyer_id == foyer_id, LedgerEntry.entity_id == entity_id
        )
    )
    owed = -int(balance or 0)  # what the entity owes the foyer
    if not 0 < cents <= owed:
        raise BillingRefused(
            f"Le remboursement doit être positif et ne pas dépasser {euros(max(owed, 0))}."
        )
    payment = Payment(
        foyer_id=foyer_id, entity_id=entity_id, method=PaymentMethod.VIREMENT,
        state=PaymentState.PAYE, amount_cents=-cents, reference=reference,
        created_at=clock.now(), settled_at=clock.now(), account_id=account_id,
    )  # fmt: skip
    session.add(payment)
    session.flush()
    session.add(
        LedgerEntry(
            foyer_id=foyer_id, entity_id=entity_id, kind=EntryKind.REMBOURSEMENT,
            amount_cents=cents, payment_id=payment.id, at=clock.now(), account_id=account_id,
        )
    )  # fmt: skip
    session.commit()
    return payment
