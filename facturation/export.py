"""The month's invoices, credit notes and payments per entity, for the public accountant.

One CSV (UTF-8 with BOM, `;`, formulas defused, as the inbox's exports): a line per invoice
or credit note issued in the month and per payment settled in it, with what a PES V2 *titre*
would carry (README: Billing and payment).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from accounts.models import Entity
from coffre.clock import PARIS
from coffre.models import Foyer
from facturation.models import Invoice, Payment, PaymentState
from facturation.run import month_bounds
from procedures.inbox.spreadsheet import Cell, csv_text

HEADER = [
    "entite", "type", "numero", "date", "foyer", "foyer_id", "adresse", "mois_facture",
    "montant", "moyen", "facture_corrigee", "motif",
]  # fmt: skip


def month_csv(session: Session, month: date) -> str:
    """Every entity's invoices, credit notes and settled payments of the month."""
    first, last = month_bounds(month)
    start = datetime.combine(first, time(), tzinfo=PARIS)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=PARIS)
    entities = {e.id: e.slug for e in session.scalars(select(Entity))}
    lines: list[list[Cell]] = []
    corrected = aliased(Invoice)
    invoices = session.execute(
        select(Invoice, Foyer, corrected.number)
        .join(Foyer, Foyer.id == Invoice.foyer_id)
        .outerjoin(corrected, corrected.id == Invoice.credits_invoice_id)
        .where(and_(Invoice.issued_at >= start, Invoice.issued_at < end))
        .order_by(Invoice.entity_id, Invoice.year, Invoice.sequence)
    )
    for invoice, foyer, corrected_number in invoices:
        lines.append(
            [
                entities[invoice.entity_id], invoice.kind.value, invoice.number,
                invoice.issued_at.astimezone(PARIS).date().isoformat(), foyer.label, foyer.id,
                _address(foyer), invoice.month.strftime("%Y-%m"), _euros(invoice.total_cents),
                "", corrected_number or "",
                invoice.reason or "",
            ]
        )  # fmt: skip
    payments = session.execute(
        select(Payment, Foyer)
        .join(Foyer, Foyer.id == Payment.foyer_id)
        .where(
            Payment.state == PaymentState.PAYE,
            and_(Payment.settled_at >= start, Payment.settled_at < end),
        )
        .order_by(Payment.entity_id, Payment.settled_at, Payment.id)
    )
    for payment, foyer in payments:
        assert payment.settled_at is not None
        lines.append(
            [
                entities[payment.entity_id], "paiement", payment.reference,
                payment.settled_at.astimezone(PARIS).date().isoformat(), foyer.label, foyer.id,
                _address(foyer), "", _euros(payment.amount_cents), payment.method.value, "", "",
            ]
        )  # fmt: skip
    return csv_text(HEADER, lines)


def _address(foyer: Foyer) -> str:
    return " ".join(p for p in (foyer.address_line, foyer.postal_code, foyer.city) if p)


def _euros(cents: int) -> str:
    """Plain decimal euros for a spreadsheet: 1234,50."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"
