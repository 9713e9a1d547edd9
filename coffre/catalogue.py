"""The document types families deposit, with each one's validity and accepted formats."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DEFAULT_FORMATS = frozenset({PDF, JPEG, PNG})


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
        # Issued by the town into the family's vault, never reused for another request.
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
