"""The document types families deposit, with each one's validity and accepted formats.

The types and their defaults are defined here, in code; an installation may override a
type's validity, reuse and formats (table `document_type_settings`, edited by its
administrators). Code that applies those rules reads `configured_type(session, code)`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coffre.db import Base
from coffre.models import str_enum

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DEFAULT_FORMATS = frozenset({PDF, JPEG, PNG})
# The formats the upload inspection knows how to check, in the order pages list them.
KNOWN_FORMATS = (PDF, JPEG, PNG)


class Validity(StrEnum):
    MONTHS = "months"  # a number of months after the issue date
    END_OF_NEXT_YEAR = "end_of_next_year"  # tax notice: until 31 December of the next year
    UNLIMITED = "unlimited"


@dataclass(frozen=True)
class DocumentType:
    code: str
    label: str  # French, shown to families and agents
    validity: Validity
    months: int = 0
    reusable: bool = True  # may be granted to several requests
    formats: frozenset[str] = DEFAULT_FORMATS

    def valid_until(self, issued: date) -> date | None:
        """The last day this document is valid, None when it never expires."""
        if self.validity is Validity.UNLIMITED:
            return None
        if self.validity is Validity.END_OF_NEXT_YEAR:
            return date(issued.year + 1, 12, 31)
        return add_months(issued, self.months)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


DOCUMENT_TYPES: dict[str, DocumentType] = {
    t.code: t
    for t in [
        DocumentType("avis_imposition", "Avis d'imposition", Validity.END_OF_NEXT_YEAR),
        DocumentType("justificatif_domicile", "Justificatif de domicile", Validity.MONTHS, 3),
        DocumentType("attestation_caf", "Attestation CAF / quotient familial", Validity.MONTHS, 12),
        DocumentType("carnet_vaccination", "Carnet de vaccination", Validity.UNLIMITED),
        DocumentType("piece_identite", "Pièce d'identité", Validity.MONTHS, 120),
        DocumentType("livret_famille", "Livret de famille", Validity.UNLIMITED),
        DocumentType("bulletin_salaire", "Bulletin de salaire", Validity.MONTHS, 3),
        DocumentType("rib", "Relevé d'identité bancaire (RIB)", Validity.UNLIMITED),
        DocumentType("jugement_garde", "Jugement de garde", Validity.UNLIMITED),
        DocumentType("attestation_assurance", "Attestation d'assurance", Validity.MONTHS, 12),
        # A school outside the catchment area: who minds the child after school, and where
        # a parent works, each proven for the coming school year.
        DocumentType(
            "attestation_garde",
            "Attestation de garde (assistante maternelle ou proche)",
            Validity.MONTHS,
            12,
        ),
        DocumentType("attestation_employeur", "Attestation de l'employeur", Validity.MONTHS, 3),
        # The individualised care plan (PAI) a doctor signs for a child each school year.
        DocumentType(
            "pai_medical",
            "Projet d'accueil individualisé signé par le médecin",
            Validity.MONTHS,
            12,
        ),
        # Justifies one absence: never offered again for another request.
        DocumentType(
            "certificat_medical", "Certificat médical", Validity.MONTHS, 3, reusable=False
        ),
        # Issued by the town into the family's vault, never reused for another request.
        DocumentType(
            "facture",
            "Facture de la commune",
            Validity.UNLIMITED,
            reusable=False,
            formats=frozenset({PDF}),
        ),
        DocumentType(
            "attestation_mairie",
            "Attestation délivrée par la mairie",
            Validity.UNLIMITED,
            reusable=False,
            formats=frozenset({PDF}),
        ),
    ]
}


class UnknownDocumentType(Exception):
    """No such document type in the catalogue."""


def document_type(code: str) -> DocumentType:
    """The catalogue entry for a code."""
    try:
        return DOCUMENT_TYPES[code]
    except KeyError:
        raise UnknownDocumentType(code) from None


class DocumentTypeSetting(Base):
    """This installation's override of one document type's rules (its label stays in code)."""

    __tablename__ = "document_type_settings"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    validity: Mapped[Validity] = mapped_column(str_enum(Validity))
    months: Mapped[int] = mapped_column(default=0)
    reusable: Mapped[bool] = mapped_column(Boolean)
    # MIME types among KNOWN_FORMATS, comma-separated.
    formats: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]

    def applied_to(self, kind: DocumentType) -> DocumentType:
        """The type with this setting's rules."""
        formats = frozenset(f for f in self.formats.split(",") if f in KNOWN_FORMATS)
        return replace(
            kind,
            validity=self.validity,
            months=self.months,
            reusable=self.reusable,
            formats=formats or kind.formats,
        )


def configured_type(session: Session, code: str) -> DocumentType:
    """The catalogue entry for a code, with this installation's setting applied if any."""
    kind = document_type(code)
    setting = session.get(DocumentTypeSetting, code)
    return kind if setting is None else setting.applied_to(kind)


def configured_types(session: Session, codes: Iterable[str]) -> dict[str, DocumentType]:
    """`configured_type` of several codes, in one query."""
    wanted = set(codes)
    settings = {
        setting.code: setting
        for setting in session.scalars(
            select(DocumentTypeSetting).where(DocumentTypeSetting.code.in_(wanted))
        )
    }
    kinds = {code: document_type(code) for code in wanted}
    return {
        code: kind if code not in settings else settings[code].applied_to(kind)
        for code, kind in kinds.items()
    }
