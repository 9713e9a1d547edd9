"""The yearly certificate of childcare costs for the tax return (*attestation de frais de
garde*): what the foyer paid in a year for the care of its children under six on the 1st of
January of that year (crèche, after-school care, Wednesdays, holidays; not the canteen's
meals), from the invoices it paid. Issued by the town into the foyer's vault.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time

from fpdf import FPDF
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from accounts.models import Entity
from coffre.clock import PARIS, Clock, local_today
from coffre.models import Channel, Document, Foyer, FoyerMember
from coffre.vault import Upload, Vault
from facturation.errors import BillingRefused
from facturation.models import Invoice, InvoiceLine, Payment, PaymentInvoice, PaymentState
from facturation.money import euros
from notifications.templates import date_fr
from procedures.operations.attestations import PDF_ENCODING, printable
from reservations.models import Activity, ActivityKind

DOCUMENT_TYPE = "attestation_mairie"
CARE = tuple(kind for kind in ActivityKind if kind is not ActivityKind.CANTINE)


@dataclass(frozen=True)
class ChildCost:
    name: str
    born: date | None
    cents: int


def filename(year: int) -> str:
    return f"attestation-frais-de-garde-{year}.pdf"


def costs(session: Session, foyer_id: int, year: int) -> list[ChildCost]:
    """What the foyer paid in `year` for the care of each child under six on 1 January."""
    start = datetime.combine(date(year, 1, 1), time(), tzinfo=PARIS)
    end = datetime.combine(date(year + 1, 1, 1), time(), tzinfo=PARIS)
    paid_invoices = (
        select(PaymentInvoice.invoice_id)
        .join(Payment, Payment.id == PaymentInvoice.payment_id)
        .where(
            Payment.foyer_id == foyer_id,
            Payment.state == PaymentState.PAYE,
            and_(Payment.settled_at >= start, Payment.settled_at < end),
        )
    )
    rows = session.execute(
        select(FoyerMember, InvoiceLine.amount_cents)
        .join(InvoiceLine, InvoiceLine.member_id == FoyerMember.id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Activity, Activity.id == InvoiceLine.activity_id)
        .where(
            Invoice.foyer_id == foyer_id,
            Invoice.id.in_(paid_invoices),
            Activity.kind.in_(CARE),
        )
    )
    totals: dict[int, int] = defaultdict(int)
    children: dict[int, FoyerMember] = {}
    six_years_before = date(year - 6, 1, 1)
    for child, amount in rows:
        if child.birth_date is not None and child.birth_date > six_years_before:
            totals[child.id] += amount
            children[child.id] = child
    return [
        ChildCost(f"{c.first_name} {c.last_name}", c.birth_date, totals[c.id])
        for c in sorted(children.values(), key=lambda c: (c.birth_date or date.min, c.id))
    ]


def issue(
    session: Session, clock: Clock, vault: Vault, foyer_id: int, year: int, town: str
) -> Document:
    """The year's certificate in the foyer's vault: the one issued today if any, else a new
    one (a new version of an earlier one: payments may have been settled since)."""
    if not 2000 <= year < local_today(clock).year + 1:
        raise BillingRefused("Choisissez une année passée ou l'année en cours.")
    existing = session.scalar(
        select(Document).where(
            Document.foyer_id == foyer_id,
            Document.type_code == DOCUMENT_TYPE,
            Document.original_name == filename(year),
            Document.superseded_at.is_(None),
        )
    )
    if existing is not None and existing.issued_on == local_today(clock):
        return existing
    lines = costs(session, foyer_id, year)
    if not lines:
        raise BillingRefused(
            f"Aucun frais de garde payé en {year} pour un enfant de moins de six ans : "
            "pas d'attestation à établir."
        )
    foyer = session.get(Foyer, foyer_id)
    assert foyer is not None
    upload = Upload(
        foyer_id=foyer_id,
        type_code=DOCUMENT_TYPE,
        filename=filename(year),
        stream=io.BytesIO(render_pdf(foyer, year, lines, town, local_today(clock))),
        issued_on=local_today(clock),
        channel=Channel.MAIRIE,
        replaces_id=existing.id if existing is not None else None,
    )
    return vault.deposit(session, upload)


def town_name(session: Session) -> str:
    """The entity that bills the foyer's care (the first, for a town with one)."""
    name = session.scalar(select(Entity.name).order_by(Entity.id).limit(1))
    return name or "La commune"


def render_pdf(foyer: Foyer, year: int, lines: list[ChildCost], town: str, today: date) -> bytes:
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = PDF_ENCODING
    pdf.set_title(f"Attestation de frais de garde {year}")
    pdf.set_author(town)
    pdf.set_margins(25, 25, 25)
    pdf.add_page()
    _text(pdf, town, 13, "B")
    _text(pdf, "Portail famille", 10)
    pdf.ln(14)
    _text(pdf, f"Attestation de frais de garde - année {year}", 16, "B")
    pdf.ln(8)
    _text(
        pdf,
        f"{town} atteste que le foyer {foyer.label} a payé en {year}, pour la garde de ses "
        "enfants de moins de six ans au 1er janvier, les sommes suivantes (crèche, accueil "
        "périscolaire et de loisirs ; les repas de la restauration scolaire n'en font pas "
        "partie) :",
        11,
    )
    pdf.ln(4)
    for line in lines:
        born = f", né(e) le {date_fr(line.born)}" if line.born else ""
        _text(pdf, f"- {line.name}{born} : {euros(line.cents)}", 11)
    pdf.ln(4)
    _text(pdf, f"Total : {euros(sum(line.cents for line in lines))}", 11, "B")
    pdf.ln(8)
    _text(
        pdf,
        "À déclarer au titre des frais de garde des jeunes enfants (crédit d'impôt, article "
        f"200 quater B du code général des impôts). Délivrée le {date_fr(today)}.",
        10,
    )
    return bytes(pdf.output())


def _text(pdf: FPDF, text: str, size: int, style: str = "") -> None:
    pdf.set_font("helvetica", style=style, size=size)
    cleaned = printable(text.replace("\u202f", " ").replace("\xa0", " "))
    pdf.multi_cell(0, size * 0.55, cleaned, new_x="LMARGIN", new_y="NEXT")
