"""Each invoice as a PDF in the foyer's vault, issued by the town, and announced by e-mail.

The monthly run writes invoices fast; their PDFs follow in the worker's `invoice-documents`
job (and at once in the demo), a batch at a time, each invoice committed with its document
and its e-mail, so an interruption loses nothing and sends nothing twice.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.family import family_accounts
from accounts.models import Entity
from coffre.clock import PARIS, Clock
from coffre.models import Channel, Foyer, FoyerMember
from coffre.vault import Upload, Vault
from facturation.models import Invoice, InvoiceKind, Payment, PaymentInvoice, PaymentMethod, Unit
from facturation.money import euros
from facturation.run import month_name
from notifications import outbox
from notifications.templates import INVOICE_TEMPLATE, date_fr
from procedures.operations.attestations import PDF_ENCODING, printable

DOCUMENT_TYPE = "facture"
BATCH = 100
UNITS = {Unit.JOUR: "jour(s)", Unit.HEURE: "min", Unit.FORFAIT_MENSUEL: "mois"}


@dataclass(frozen=True)
class Settings:
    vault: Vault
    base_url: str
    announce: bool = True  # e-mail the family (the demo's past invoices are not announced)
    # How to pay, printed on each invoice (the entity's PayFiP or counter details).
    how_to_pay: str = (
        "Payez en ligne depuis la page « Factures et paiements » de votre espace famille, "
        "ou à l'accueil de la mairie (espèces, chèque, CESU)."
    )


def issue_documents(session: Session, clock: Clock, settings: Settings) -> int:
    """Put the PDF of each invoice that has none yet into its foyer's vault; how many."""
    pending = session.scalars(
        select(Invoice).where(Invoice.document_id.is_(None)).order_by(Invoice.id).limit(BATCH)
    ).all()
    for invoice in pending:
        entity = session.get(Entity, invoice.entity_id)
        foyer = session.get(Foyer, invoice.foyer_id)
        assert entity is not None and foyer is not None
        upload = Upload(
            foyer_id=foyer.id,
            type_code=DOCUMENT_TYPE,
            filename=f"{invoice.kind.value}-{invoice.number}.pdf",
            stream=io.BytesIO(render_pdf(session, invoice, entity, foyer, settings.how_to_pay)),
            issued_on=invoice.issued_at.astimezone(PARIS).date(),
            channel=Channel.MAIRIE,
        )
        document = settings.vault.deposit(session, upload, commit=False)
        invoice.document_id = document.id
        if invoice.kind is InvoiceKind.FACTURE and settings.announce:
            _announce(session, clock, invoice, entity, settings.base_url)
        session.commit()
    return len(pending)


def _announce(
    session: Session, clock: Clock, invoice: Invoice, entity: Entity, base_url: str
) -> None:
    for account in family_accounts(session, invoice.foyer_id):
        outbox.enqueue(
            session,
            clock,
            key=f"facture:{invoice.id}:{account.id}",
            recipient=account.email,
            template=INVOICE_TEMPLATE,
            context={
                "numero": invoice.number,
                "entite": entity.name,
                "mois": month_name(invoice.month),
                "montant": euros(invoice.total_cents),
                "echeance": date_fr(invoice.due_on),
                "lien": f"{base_url}/famille/factures",
            },
        )


def render_pdf(
    session: Session, invoice: Invoice, entity: Entity, foyer: Foyer, how_to_pay: str
) -> bytes:
    """The invoice on A4: who, what month, a line per child and activity, total, due date."""
    names = {
        member.id: f"{member.first_name} {member.last_name}"
        for member in session.scalars(select(FoyerMember).where(FoyerMember.foyer_id == foyer.id))
    }
    title = "Facture" if invoice.kind is InvoiceKind.FACTURE else "Avoir"
    pdf = _letter(entity.name, "Portail famille", f"{title} n° {invoice.number}")
    pdf.set_creation_date(invoice.issued_at)
    _text(pdf, f"{title} n° {invoice.number} - {month_name(invoice.month)}", 15, "B")
    _text(pdf, f"Foyer : {foyer.label}", 11)
    if foyer.address_line:
        _text(pdf, f"{foyer.address_line}, {foyer.postal_code} {foyer.city}".strip(", "), 10)
    band = f"Tranche de quotient familial : {invoice.band}"
    if invoice.band_assumed:
        band += " (sans quotient familial valide, la tranche la plus haute s'applique)"
    _text(pdf, band, 10)
    pdf.ln(6)
    _row(pdf, ("Enfant et activité", "Quantité", "Prix unitaire", "Montant"), bold=True)
    for line in invoice.lines:
        child = names.get(line.member_id, "")
        activity = line.label.split(" — ")[0]
        quantity = f"{line.quantity} {UNITS[line.unit]}"
        _row(
            pdf,
            (
                f"{child} - {activity}",
                quantity,
                euros(line.unit_price_cents),
                euros(line.amount_cents),
            ),
        )
    pdf.ln(2)
    _row(pdf, ("Total", "", "", euros(invoice.total_cents)), bold=True)
    pdf.ln(6)
    if invoice.kind is InvoiceKind.FACTURE:
        issued = date_fr(invoice.issued_at.astimezone(PARIS).date())
        _text(pdf, f"Émise le {issued}, à régler avant le {date_fr(invoice.due_on)}.", 11)
        _text(pdf, how_to_pay, 10)
    else:
        _text(pdf, f"Avoir sur la facture corrigée. Motif : {invoice.reason or ''}", 11)
    pdf.ln(6)
    _text(pdf, "Document émis par la commune et déposé dans votre coffre-fort numérique.", 9)
    return bytes(pdf.output())


def _letter(town: str, office: str, title: str) -> FPDF:
    """An A4 page headed with the town and its office, ready for the title."""
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = PDF_ENCODING
    pdf.set_title(printable(title))
    pdf.set_author(town)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    _text(pdf, town, 13, "B")
    _text(pdf, office, 10)
    pdf.ln(8)
    return pdf


def _text(pdf: FPDF, text: str, size: int, style: str = "") -> None:
    pdf.set_font("helvetica", style=style, size=size)
    pdf.multi_cell(0, size * 0.55, printable(text), new_x="LMARGIN", new_y="NEXT")


def _row(pdf: FPDF, cells: tuple[str, str, str, str], bold: bool = False) -> None:
    pdf.set_font("helvetica", style="B" if bold else "", size=10)
    for text, width, align in zip(cells, (90, 25, 27, 28), ("L", "R", "R", "R"), strict=True):
        pdf.cell(width, 7, printable(text.replace("\u202f", " ").replace("\xa0", " ")), align=align)
    pdf.ln(7)


def issue_receipt(session: Session, clock: Clock, vault: Vault, payment: Payment) -> int:
    """The counter's receipt of a payment, as a PDF in the foyer's vault; its document id."""
    entity = session.get(Entity, payment.entity_id)
    foyer = session.get(Foyer, payment.foyer_id)
    assert entity is not None and foyer is not None and payment.settled_at is not None
    numbers = session.scalars(
        select(Invoice.number)
        .join(PaymentInvoice, PaymentInvoice.invoice_id == Invoice.id)
        .where(PaymentInvoice.payment_id == payment.id)
        .order_by(Invoice.number)
    ).all()
    pdf = _letter(entity.name, "Régie - accueil de la mairie", f"Reçu n° {payment.reference}")
    _text(pdf, f"Reçu n° {payment.reference}", 15, "B")
    settled = payment.settled_at.astimezone(PARIS).date()
    _text(
        pdf,
        f"Reçu le {date_fr(settled)} du foyer {foyer.label} la somme de "
        f"{euros(payment.amount_cents)} ({METHODS[payment.method]}), en règlement de : "
        + ", ".join(numbers)
        + ".",
        11,
    )
    document = vault.deposit(
        session,
        Upload(
            foyer_id=foyer.id, type_code="attestation_mairie",
            filename=f"recu-{payment.reference}.pdf", stream=io.BytesIO(bytes(pdf.output())),
            issued_on=settled, channel=Channel.GUICHET,
        ),
    )  # fmt: skip
    return document.id


METHODS = {
    PaymentMethod.ESPECES: "espèces",
    PaymentMethod.CHEQUE: "chèque",
    PaymentMethod.CESU: "chèques emploi service universel",
    PaymentMethod.EN_LIGNE: "paiement en ligne",
    PaymentMethod.VIREMENT: "virement",
}
