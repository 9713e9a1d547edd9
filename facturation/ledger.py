"""The family account: its invoices and their state, its payments, its balance; and the
check that the append-only ledger matches the invoices and payments it records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facturation.models import (
    EntryKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    LedgerEntry,
    Payment,
    PaymentInvoice,
    PaymentState,
)

SIGN = {
    EntryKind.FACTURE: 1,
    EntryKind.REMBOURSEMENT: 1,
    EntryKind.AVOIR: -1,
    EntryKind.PAIEMENT: -1,
}


class InvoiceState(StrEnum):
    PAYEE = "payee"
    A_PAYER = "a_payer"
    EN_RETARD = "en_retard"
    AVOIR = "avoir"  # a credit note: nothing to pay


@dataclass(frozen=True)
class InvoiceView:
    invoice: Invoice
    state: InvoiceState
    left_cents: int  # still to pay


@dataclass(frozen=True)
class Account:
    invoices: Sequence[InvoiceView]
    payments: Sequence[Payment]
    balance_cents: int  # what the foyer owes (negative: in credit)


def account_of(session: Session, foyer_id: int, today: date) -> Account:
    """The foyer's invoices (newest first), settled payments and balance, every entity."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.foyer_id == foyer_id)
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
    ).all()
    paid = _paid_per_invoice(session, [invoice.id for invoice in invoices])
    credited: dict[int, int] = defaultdict(int)
    for invoice in invoices:
        if invoice.kind is InvoiceKind.AVOIR and invoice.credits_invoice_id is not None:
            credited[invoice.credits_invoice_id] += invoice.total_cents
    views = []
    for invoice in invoices:
        if invoice.kind is InvoiceKind.AVOIR:
            views.append(InvoiceView(invoice, InvoiceState.AVOIR, 0))
            continue
        left = max(0, invoice.total_cents - paid.get(invoice.id, 0) - credited[invoice.id])
        state = (
            InvoiceState.PAYEE
            if left == 0
            else InvoiceState.EN_RETARD
            if invoice.due_on < today
            else InvoiceState.A_PAYER
        )
        views.append(InvoiceView(invoice, state, left))
    payments = session.scalars(
        select(Payment)
        .where(Payment.foyer_id == foyer_id, Payment.state == PaymentState.PAYE)
        .order_by(Payment.settled_at.desc())
    ).all()
    return Account(views, payments, balance(session, foyer_id))


def balance(session: Session, foyer_id: int) -> int:
    """What the foyer owes, all entities together: the sum of its ledger entries."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.foyer_id == foyer_id
        )
    )
    return int(total or 0)


def _paid_per_invoice(session: Session, invoice_ids: list[int]) -> dict[int, int]:
    """How much settled payments put on each invoice (a payment covers its invoices in
    full: the family pays what is left of each one it ticks)."""
    rows = session.execute(
        select(PaymentInvoice.invoice_id, Invoice.total_cents)
        .join(Payment, Payment.id == PaymentInvoice.payment_id)
        .join(Invoice, Invoice.id == PaymentInvoice.invoice_id)
        .where(PaymentInvoice.invoice_id.in_(invoice_ids), Payment.state == PaymentState.PAYE)
    )
    return {invoice_id: int(total) for invoice_id, total in rows}


def verify(session: Session) -> list[str]:
    """Every way the ledger could disagree with the invoices and payments, in French; an
    empty list when each foyer's balance is its invoices minus its payments and credit notes.
    """
    problems = []
    line_sums = dict(
        session.execute(
            select(InvoiceLine.invoice_id, func.sum(InvoiceLine.amount_cents)).group_by(
                InvoiceLine.invoice_id
            )
        ).all()
    )
    expected: dict[tuple[int, int], int] = defaultdict(int)
    entries_of_invoice: dict[int, list[int]] = defaultdict(list)
    entries_of_payment: dict[int, list[int]] = defaultdict(list)
    recorded: dict[tuple[int, int], int] = defaultdict(int)
    # Plain rows, not objects: a town's ledger is read in one pass without its mappings.
    entries = session.execute(
        select(
            LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount_cents, LedgerEntry.foyer_id,
            LedgerEntry.entity_id, LedgerEntry.invoice_id, LedgerEntry.payment_id,
        )
    )  # fmt: skip
    for entry_id, kind, amount, foyer_id, entity_id, invoice_id, payment_id in entries:
        if amount * SIGN[kind] < 0:
            problems.append(f"écriture {entry_id} : montant de signe contraire à sa nature")
        recorded[(foyer_id, entity_id)] += amount
        if invoice_id is not None:
            entries_of_invoice[invoice_id].append(amount)
        if payment_id is not None:
            entries_of_payment[payment_id].append(amount)
    invoices = session.execute(
        select(
            Invoice.id, Invoice.number, Invoice.kind, Invoice.total_cents, Invoice.foyer_id,
            Invoice.entity_id,
        )
    )  # fmt: skip
    for invoice_id, number, invoice_kind, total, foyer_id, entity_id in invoices:
        if int(line_sums.get(invoice_id, 0)) != total:
            problems.append(f"facture {number} : total différent de la somme des lignes")
        sign = 1 if invoice_kind is InvoiceKind.FACTURE else -1
        if entries_of_invoice.get(invoice_id) != [sign * total]:
            problems.append(f"facture {number} : pas exactement une écriture de son montant")
        expected[(foyer_id, entity_id)] += sign * total
    payments = session.execute(
        select(
            Payment.id, Payment.reference, Payment.state, Payment.amount_cents, Payment.foyer_id,
            Payment.entity_id,
        )
    )  # fmt: skip
    for payment_id, reference, state, amount, foyer_id, entity_id in payments:
        settled = state is PaymentState.PAYE
        wanted = [-amount] if settled else []  # a refund's amount is negative: + owed
        if entries_of_payment.get(payment_id, []) != wanted:
            problems.append(f"paiement {reference} : écritures différentes de son état")
        if settled:
            expected[(foyer_id, entity_id)] -= amount
    for key in sorted(set(expected) | set(recorded)):
        if expected.get(key, 0) != recorded.get(key, 0):
            foyer_id, entity_id = key
            problems.append(
                f"foyer {foyer_id}, entité {entity_id} : solde du grand livre "
                f"{recorded.get(key, 0)} c, attendu {expected.get(key, 0)} c"
            )
    return problems
