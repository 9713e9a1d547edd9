"""The tables of billing: tariffs, invoices and their lines, the runs, the ledger.

Money is integer cents of euros everywhere. The ledger is append-only: an invoice, a
payment, a credit note or a refund each add an entry, and a foyer's balance with an entity
is the sum of its entries (what it owes: invoices and refunds count up, payments and credit
notes down). Nothing is ever updated in it; `facturation.ledger.verify` proves it matches
the invoices and payments.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base
from coffre.models import str_enum

BANDS = ("A", "B", "C", "D", "E", "F")  # family-quotient bands, A the lowest
HIGHEST_BAND = BANDS[-1]  # no valid quotient: the highest band, and the family is told


class Unit(StrEnum):
    """What a tariff's price is for."""

    JOUR = "jour"  # a day booked (a meal, a session of care or of the leisure centre)
    HEURE = "heure"  # an hour of the session (crèche), prorated to the minute
    FORFAIT_MENSUEL = "forfait_mensuel"  # a flat fee for each month the child is enrolled


class Tariff(Base):
    """The price of an activity's unit for one band, from a day on (until the next grid's)."""

    __tablename__ = "tariffs"
    __table_args__ = (UniqueConstraint("activity_id", "band", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    band: Mapped[str] = mapped_column(String(2))
    unit: Mapped[Unit] = mapped_column(str_enum(Unit))
    price_cents: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date]
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class InvoiceKind(StrEnum):
    FACTURE = "facture"
    AVOIR = "avoir"  # a credit note: corrects an issued invoice, never an edit of it


class Invoice(Base):
    """One foyer's invoice (or credit note) from one entity for one month."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("entity_id", "year", "sequence"),
        Index("ix_invoices_foyer", "foyer_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"))
    kind: Mapped[InvoiceKind] = mapped_column(str_enum(InvoiceKind))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)  # without gaps per entity and year
    number: Mapped[str] = mapped_column(String(30), unique=True)
    month: Mapped[date]  # its first day
    band: Mapped[str] = mapped_column(String(2))
    band_assumed: Mapped[bool]  # no valid quotient on the month's first day: highest band
    total_cents: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime]
    due_on: Mapped[date]
    credits_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    reason: Mapped[str | None] = mapped_column(String(300))  # a credit note's
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))  # its PDF

    lines: Mapped[list[InvoiceLine]] = relationship(order_by="InvoiceLine.id")


class InvoiceLine(Base):
    """What one child used of one activity at one price: quantity x unit price = amount."""

    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("foyer_members.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    label: Mapped[str] = mapped_column(String(300))
    unit: Mapped[Unit] = mapped_column(str_enum(Unit))
    # Days, months, or minutes for an hourly tariff (prorated to the minute).
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class InvoiceSequence(Base):
    """The last number given per entity and year (rows locked while numbering)."""

    __tablename__ = "invoice_sequences"

    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class BillingRun(Base):
    """An entity's monthly run: there is one per month, so running it again creates nothing."""

    __tablename__ = "billing_runs"
    __table_args__ = (UniqueConstraint("entity_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    month: Mapped[date]
    run_at: Mapped[datetime]
    invoices: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(BigInteger)


class EntryKind(StrEnum):
    FACTURE = "facture"  # owed: + total
    AVOIR = "avoir"  # credited: - total
    PAIEMENT = "paiement"  # paid: - amount
    REMBOURSEMENT = "remboursement"  # paid back to the family: + amount


class LedgerEntry(Base):
    """One movement of a foyer's account with an entity. Never updated, never deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_foyer_entity", "foyer_id", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind))
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # signed: + owed, - credited
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    at: Mapped[datetime]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class PaymentMethod(StrEnum):
    EN_LIGNE = "en_ligne"  # PayFiP (or the dummy backend of the demo and the tests)
    ESPECES = "especes"
    CHEQUE = "cheque"
    CESU = "cesu"
    VIREMENT = "virement"  # a refund paid back to the family (its amount is negative)


class PaymentState(StrEnum):
    EN_COURS = "en_cours"  # created, the family is at the payment page
    PAYE = "paye"
    REFUSE = "refuse"


class Payment(Base):
    """A payment of one or several invoices of one foyer to one entity."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod))
    state: Mapped[PaymentState] = mapped_column(str_enum(PaymentState))
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # negative: a refund
    # The payment backend's transaction id (online), or the receipt's number (counter).
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class PaymentInvoice(Base):
    """Which invoices a payment settles."""

    __tablename__ = "payment_invoices"

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True)


class PaymentNotification(Base):
    """Each response of the payment backend the portal received, and what came of it."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # notification (server) or retour (family)
    # credite, deja_credite, non_signee, inconnue, montant, refusee, illisible
    outcome: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(300))
