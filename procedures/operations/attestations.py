"""Certificates the town issues into the family's vault: a one-page PDF for each request.

`generer_attestation` writes either a fiscal certificate of the childcare costs a family
paid in a year, or an attendance certificate for a period, and deposits it in the
family's vault as an "attestation_mairie" from the town's channel: the family finds it
there beside its own documents. The portal records neither amounts paid nor attendance,
so when the data a certificate states is missing (the fiscal certificate's amount, the
attendance period) the operation says so and the diagram sends the demande to an agent,
whose form supplies it.

`relever_adresse_foyer` and `delivrer_attestation_domicile` serve the residence certificate
for a school registration (attestation de domicile): the first notes the foyer's address for
the agent who compares it with the proof, the second certifies that address once the agent
confirmed it.

The document row is written in the step's own transaction (the step commits it with the
workflow's new state, or nothing), and a step run again finds the certificate it already
issued, by its file name, instead of issuing a second one.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fpdf import FPDF
from sqlalchemy import select

from accounts.models import Service
from coffre.clock import local_today
from coffre.models import Channel, Document, Foyer, FoyerMember
from coffre.vault import Upload
from notifications.templates import date_fr
from procedures.history import EngineContext, record_event
from procedures.operations.context import Operation, OperationContext, OperationError, child_of

DOCUMENT_TYPE = "attestation_mairie"
TITLES = {
    "fiscale": "Attestation de frais de garde",
    "presence": "Attestation de présence",
    "domicile": "Attestation de domicile",
}
# Core PDF fonts cover Windows-1252 (French included: « », œ, €); other letters are
# written without their accents rather than refused.
PDF_ENCODING = "windows-1252"
# Letters with no decomposition to a base letter (Polish, Vietnamese, Turkish names).
_UNACCENTED = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i"})


@dataclass(frozen=True)
class Certificate:
    """What one certificate says, ready to be laid out."""

    town: str
    title: str
    paragraphs: tuple[str, ...]
    reference: str
    issued_on: date
    issued_at: datetime


def generate_certificate(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Issue the requested certificate into the family's vault, once per step.

    Returns {"generee": True, "document_id": ...}, or {"generee": False, "manque": field}
    when the data the certificate must state is missing. `params["service"]` names the
    issuing service, whose entity signs the certificate.
    """
    kind = str(context.data.get("type_attestation", ""))
    if kind not in TITLES:
        raise OperationError(f"unknown certificate kind {kind!r}")
    missing = _missing(kind, context.data)
    if missing is not None:
        return {"generee": False, "manque": missing}
    if context.vault is None:
        raise OperationError("issuing a certificate needs the vault")
    filename = certificate_filename(context, kind)
    issued = _issued(context, filename)
    if issued is not None:
        return {"generee": True, "document_id": issued}
    child = child_of(context)
    certificate = _certificate(context, kind, _town(context, params), child)
    document = deposit_certificate(context, certificate, child, filename)
    return {"generee": True, "document_id": document.id}


def _missing(kind: str, data: Mapping[str, Any]) -> str | None:
    if kind == "fiscale" and data.get("montant") in (None, ""):
        return "montant"
    if kind == "presence" and not str(data.get("periode") or "").strip():
        return "periode"
    return None


def certificate_filename(context: OperationContext, kind: str) -> str:
    """The file name of this step's certificate: names the demande and the step."""
    return f"attestation-{kind}-{_reference(context)}-{context.step_id[:8]}.pdf"


def _reference(context: OperationContext) -> str:
    return context.demande.number or str(context.demande.id)


def _issued(context: OperationContext, filename: str) -> int | None:
    return context.session.scalar(
        select(Document.id).where(
            Document.foyer_id == context.demande.foyer_id,
            Document.type_code == DOCUMENT_TYPE,
            Document.original_name == filename,
        )
    )


def _town(context: OperationContext, params: Mapping[str, Any]) -> str:
    service = context.session.scalar(select(Service).where(Service.code == params.get("service")))
    if service is None:
        raise OperationError(f"unknown issuing service {params.get('service')!r}")
    return service.entity.name


def _certificate(
    context: OperationContext, kind: str, town: str, child: FoyerMember
) -> Certificate:
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    assert foyer is not None  # a foreign key guarantees it
    child_name = f"{child.first_name} {child.last_name}"
    today = local_today(context.clock)
    family = family_name(foyer.label)
    if kind == "fiscale":
        paragraphs = _fiscal_text(context.data, family, child_name, today)
    else:
        paragraphs = _attendance_text(context.data, family, child_name)
    return Certificate(
        town=town,
        title=TITLES[kind],
        paragraphs=paragraphs,
        reference=_reference(context),
        issued_on=today,
        issued_at=context.clock.now(),
    )


def family_name(label: str) -> str:
    """The foyer's label as it follows « la famille » in a sentence: a label that already
    says « Famille Martin » (or « Foyer Martin », as a sign-up names it) gives « Martin »."""
    first, _, rest = label.strip().partition(" ")
    if first.casefold() in ("famille", "foyer") and rest.strip():
        return rest.strip()
    return label.strip()


def _fiscal_text(data: Mapping[str, Any], family: str, child: str, today: date) -> tuple[str, ...]:
    # Families ask in spring for the costs of the year just ended, for their tax return.
    year = int(data.get("annee") or today.year - 1)
    return (
        f"La commune atteste que la famille {family} a acquitté, pour l'accueil de {child} "
        f"au cours de l'année {year}, des frais de garde d'un montant total de "
        f"{euros(float(data['montant']))}.",
        "Cette attestation peut être jointe à la déclaration de revenus au titre des frais "
        "de garde des jeunes enfants.",
    )


def _attendance_text(data: Mapping[str, Any], family: str, child: str) -> tuple[str, ...]:
    text = (
        f"La commune atteste que {child}, de la famille {family}, a fréquenté ses structures "
        f"d'accueil pendant la période suivante : {str(data['periode']).strip()}."
    )
    if data.get("jours") not in (None, ""):
        text += f" Nombre de jours de présence : {int(float(data['jours']))}."
    return (text,)


def euros(amount: float) -> str:
    """An amount as written in French: « 1 234,50 € »."""
    grouped = f"{amount:,.2f}".replace(",", "\u00a0").replace(".", ",")
    return f"{grouped}\u00a0€"


def deposit_certificate(
    context: OperationContext, certificate: Certificate, child: FoyerMember, filename: str
) -> Document:
    """The certificate as a PDF into the family's vault, the child's, issued by the town."""
    assert context.vault is not None
    upload = Upload(
        foyer_id=context.demande.foyer_id,
        type_code=DOCUMENT_TYPE,
        filename=filename,
        stream=io.BytesIO(render_pdf(certificate)),
        issued_on=certificate.issued_on,
        member_id=child.id,
        channel=Channel.MAIRIE,
    )
    return context.vault.deposit(context.session, upload, commit=False)


def render_pdf(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 PDF."""
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = PDF_ENCODING
    pdf.set_creation_date(certificate.issued_at)
    pdf.set_title(f"{certificate.title} - {certificate.reference}")
    pdf.set_author(certificate.town)
    pdf.set_margins(25, 25, 25)
    pdf.add_page()
    _line(pdf, certificate.town, size=13, style="B")
    _line(pdf, "Portail famille", size=10)
    pdf.ln(20)
    _line(pdf, certificate.title, size=16, style="B", align="C")
    pdf.ln(12)
    for paragraph in certificate.paragraphs:
        _line(pdf, paragraph, size=11)
        pdf.ln(4)
    pdf.ln(8)
    _line(pdf, f"Délivrée le {date_fr(certificate.issued_on)} par {certificate.town}.", size=11)
    pdf.ln(16)
    _line(pdf, f"Référence de la demande : {certificate.reference}", size=9)
    _line(pdf, "Document émis par la commune et déposé dans votre coffre-fort numérique.", size=9)
    return bytes(pdf.output())


def _line(pdf: FPDF, text: str, size: int, style: str = "", align: str = "L") -> None:
    pdf.set_font("helvetica", style=style, size=size)
    pdf.multi_cell(0, size * 0.55, printable(text), align=align, new_x="LMARGIN", new_y="NEXT")


def printable(text: str) -> str:
    """The text in the core fonts' encoding: a letter it lacks loses its accents."""
    kept = []
    for char in text.translate(_UNACCENTED):
        try:
            char.encode(PDF_ENCODING)
            kept.append(char)
        except UnicodeEncodeError:
            base = "".join(
                part
                for part in unicodedata.normalize("NFKD", char)
                if not unicodedata.combining(part) and part.isascii()
            )
            kept.append(base or "?")
    return "".join(kept)


def note_address(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The foyer's address as its file says now, written in the demande's internal history
    for the agent who compares it with the proof: the certificate states this one."""
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    assert foyer is not None  # a foreign key guarantees it
    address = postal_address(foyer)
    if address:
        line = f"Adresse du dossier du foyer : {address}. Comparez-la au justificatif."
    else:
        line = (
            "Le dossier du foyer n'indique pas d'adresse : refusez en invitant la famille à la "
            "renseigner dans « Mon foyer », puis à refaire sa demande."
        )
    record_event(
        context.session,
        EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault),
        context.demande,
        None,
        "adresse_relevee",
        line,
        internal=True,  # for the agent; the family reads the decision
    )
    return {"adresse": address, "renseignee": bool(address)}


def postal_address(foyer: Foyer) -> str:
    """« 12 rue des Lilas, 33600 Bellerive », empty when the file has no street."""
    town = " ".join(part for part in (foyer.postal_code.strip(), foyer.city.strip()) if part)
    street = foyer.address_line.strip()
    return f"{street}, {town}" if street and town else street


def issue_residence_certificate(
    context: OperationContext, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Issue the residence certificate for the child's school registration, once per step.

    It certifies the address noted when the demande was sent (`domicile`), the one the agent
    compared with the proof. `params["service"]` names the issuing service.
    """
    if context.vault is None:
        raise OperationError("issuing a certificate needs the vault")
    noted = context.data.get("domicile")
    address = str(noted.get("adresse", "")) if isinstance(noted, Mapping) else ""
    if not address:
        raise OperationError("the foyer's file has no address to certify")
    filename = certificate_filename(context, "domicile")
    issued = _issued(context, filename)
    if issued is not None:
        return {"generee": True, "document_id": issued}
    child = child_of(context)
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    assert foyer is not None
    today = local_today(context.clock)
    certificate = Certificate(
        town=_town(context, params),
        title=TITLES["domicile"],
        paragraphs=_residence_text(family_name(foyer.label), address, child, today),
        reference=_reference(context),
        issued_on=today,
        issued_at=context.clock.now(),
    )
    document = deposit_certificate(context, certificate, child, filename)
    return {"generee": True, "document_id": document.id}


def _residence_text(family: str, address: str, child: FoyerMember, today: date) -> tuple[str, ...]:
    return (
        f"La commune atteste que la famille {family} réside à l'adresse suivante : {address}.",
        f"Cette adresse a été vérifiée le {date_fr(today)} sur un justificatif de domicile de "
        "moins de trois mois présenté par la famille.",
        f"Attestation délivrée pour l'inscription scolaire de {child.first_name} "
        f"{child.last_name}, à remettre à l'école.",
    )


CERTIFICATE_OPERATIONS: Mapping[str, Operation] = {
    "generer_attestation": generate_certificate,
    "relever_adresse_foyer": note_address,
    "delivrer_attestation_domicile": issue_residence_certificate,
}
