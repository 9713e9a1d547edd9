"""After issue, an invoice is never edited: a correction is a credit note (*avoir*), numbered
in the same sequence, with its reason, its own ledger entry and its PDF in the vault."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Entity
from coffre.clock import Clock, local_today
from facturation.errors import BillingNotFound, BillingRefused
from facturation.models import (
    EntryKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    LedgerEntry,
    Unit,
)
from facturation.run import sequence_for


def credit_note(
    session: Session, clock: Clock, account_id: int | None, number: str, cents: int, reason: str
) -> Invoice:
    """Credit `cents` of the invoice `number` back to its foyer, for a reason (committed)."""
    invoice = session.scalar(
        select(Invoice).where(Invoice.number == number, Invoice.kind == InvoiceKind.FACTURE)
    )
    if invoice is None:
        raise BillingNotFound(f"Aucune facture n° {number}.")
    reason = reason.strip()
    if not reason or len(reason) > 300:
        raise BillingRefused("Indiquez le motif de l'avoir (300 caractères au plus).")
    credited = session.scalar(
        select(func.coalesce(func.sum(Invoice.total_cents), 0)).where(
            Invoice.credits_invoice_id == invoice.id
        )
    )
    if not 0 < cents <= invoice.total_cents - int(credited or 0):
        raise BillingRefused(
            "L'avoir doit être positif et ne pas dépasser ce qui reste de la facture."
        )
    entity = session.get(Entity, invoice.entity_id)
    assert entity is not None
    sequence = sequence_for(session, entity.id, local_today(clock).year)
    sequence.last += 1
    note = Invoice(
        entity_id=entity.id, foyer_id=invoice.foyer_id, kind=InvoiceKind.AVOIR,
        year=sequence.year, sequence=sequence.last,
        number=f"{entity.slug.upper()}-{sequence.year}-{sequence.last:06d}", month=invoice.month,
        band=invoice.band, band_assumed=invoice.band_assumed, total_cents=cents,
        issued_at=clock.now(), due_on=local_today(clock), credits_invoice_id=invoice.id,
        reason=reason,
    )  # fmt: skip
    first = invoice.lines[0]
    note.lines.append(
        InvoiceLine(
            member_id=first.member_id, activity_id=first.activity_id,
            label=f"Avoir sur la facture {invoice.number} : {reason}"[:300], unit=Unit.JOUR,
            quantity=1, unit_price_cents=cents, amount_cents=cents,
        )
    )  # fmt: skip
    session.add(note)
    session.flush()
    session.add(
        LedgerEntry(
            foyer_id=note.foyer_id, entity_id=entity.id, kind=EntryKind.AVOIR,
            amount_cents=-cents, invoice_id=note.id, at=note.issued_at, account_id=account_id,
        )
    )  # fmt: skip
    session.commit()
    return note
