"""A 2D-Doc's message as the ANTS specifies it: the header, then the fields, then the signature.

    DC <version:2> <authority:4> <certificate:4> <issued:4> <signed:4> <type:2>
       [<perimeter:2> from version 03] [<country:2> from version 04]
    <id:2><value> ... US <signature, base32> [GS <annex>]

Dates are days since 1 January 2000 in 4 hexadecimal digits (FFFF: none). A field's
identifier says its length (`FIELDS`): a fixed-length value is followed directly by the
next identifier; a variable one ends with GS (0x1D), or RS (0x1E) when the issuer truncated
it to fit, or with the message. The identifiers are the specification's, shared by every
document type (py2ddoc's table numbers them otherwise, per type, and knows no fixed length).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from string import hexdigits

GS, RS, US = "\x1d", "\x1e", "\x1f"
MARKER = "DC"
# The header's length for each version: 03 adds the perimeter, 04 the issuing country.
HEADER_LENGTHS = {"01": 22, "02": 22, "03": 24, "04": 26}
_EPOCH = date(2000, 1, 1)
_NO_DATE = "FFFF"


class MalformedMessage(ValueError):
    """Not a well-formed 2D-Doc: a header, fields or signature the specification refuses."""


@dataclass(frozen=True)
class FieldDefinition:
    """A data identifier of the specification: its key, French label and value length."""

    name: str  # a stable key (`rfr`, `nb_parts`: what the quotient reads)
    label: str
    min_length: int
    max_length: int | None  # None: no maximum

    @property
    def fixed(self) -> bool:
        return self.max_length is not None and self.min_length == self.max_length


def _f(name: str, label: str, low: int, high: int | None) -> FieldDefinition:
    return FieldDefinition(name, label, low, high)


# The identifiers of the documents the vault reads: common ones, bills (proof of address),
# tax notices, payslips. Specification 3.3.0, section 7; 4V to 4X and the tax notice's
# address (4Y, 6U to 6Y) come from its later versions.
FIELDS: dict[str, FieldDefinition] = {
    "01": _f("identifiant_document", "Identifiant unique du document", 0, None),
    "02": _f("categorie", "Catégorie de document", 0, None),
    "03": _f("sous_categorie", "Sous-catégorie de document", 0, None),
    "04": _f("application", "Application de composition", 0, None),
    "05": _f("version_application", "Version de l'application de composition", 0, None),
    "06": _f("date_association", "Date de l'association du document et du code", 4, 4),
    "07": _f("heure_association", "Heure de l'association du document et du code", 6, 6),
    "08": _f("date_expiration", "Date d'expiration du document", 4, 4),
    "09": _f("nombre_pages", "Nombre de pages du document", 4, 4),
    "0A": _f("editeur", "Éditeur du 2D-Doc (SIREN)", 9, 9),
    "0B": _f("integrateur", "Intégrateur du 2D-Doc (SIREN)", 9, 9),
    "0C": _f("url", "Adresse du document", 0, None),
    "0D": _f("uuid", "UUID du document", 36, 36),
    # Bills: the beneficiary of the service and the addressee of the bill.
    "10": _f("beneficiaire", "Bénéficiaire de la prestation", 0, 38),
    "11": _f("beneficiaire_qualite", "Qualité du bénéficiaire", 0, 38),
    "12": _f("beneficiaire_prenom", "Prénom du bénéficiaire", 0, 38),
    "13": _f("beneficiaire_nom", "Nom du bénéficiaire", 0, 38),
    "14": _f("destinataire", "Destinataire de la facture", 0, 38),
    "15": _f("destinataire_qualite", "Qualité du destinataire", 0, 38),
    "16": _f("destinataire_prenom", "Prénom du destinataire", 0, 38),
    "17": _f("destinataire_nom", "Nom du destinataire", 0, 38),
    "18": _f("numero_facture", "Numéro de la facture", 0, None),
    "19": _f("numero_client", "Numéro de client", 0, None),
    "1A": _f("numero_contrat", "Numéro du contrat", 0, None),
    "1B": _f("souscripteur", "Identifiant du souscripteur du contrat", 0, None),
    "1C": _f("date_effet_contrat", "Date d'effet du contrat", 8, 8),
    "1D": _f("montant_ttc", "Montant TTC de la facture", 0, 16),
    "1E": _f("telephone_beneficiaire", "Téléphone du bénéficiaire", 0, 30),
    "1F": _f("telephone_destinataire", "Téléphone du destinataire", 0, 30),
    "1G": _f("co_beneficiaire", "Co-bénéficiaire non mentionné", 1, 1),
    "1H": _f("co_destinataire", "Co-destinataire non mentionné", 1, 1),
    "20": _f("service_ligne_2", "Adresse du point de service (ligne 2)", 0, 38),
    "21": _f("service_ligne_3", "Adresse du point de service (ligne 3)", 0, 38),
    "22": _f("service_voie", "Adresse du point de service (voie)", 0, 38),
    "23": _f("service_ligne_5", "Adresse du point de service (ligne 5)", 0, 38),
    "24": _f("service_code_postal", "Code postal du point de service", 5, 5),
    "25": _f("service_localite", "Localité du point de service", 0, 32),
    "26": _f("service_pays", "Pays du point de service", 2, 2),
    "27": _f("destinataire_ligne_2", "Adresse du destinataire (ligne 2)", 0, 38),
    "28": _f("destinataire_ligne_3", "Adresse du destinataire (ligne 3)", 0, 38),
    "29": _f("destinataire_voie", "Adresse du destinataire (voie)", 0, 38),
    "2A": _f("destinataire_ligne_5", "Adresse du destinataire (ligne 5)", 0, 38),
    "2B": _f("destinataire_code_postal", "Code postal du destinataire", 5, 5),
    "2C": _f("destinataire_localite", "Localité du destinataire", 0, 32),
    "2D": _f("destinataire_pays", "Pays du destinataire", 2, 2),
    # Tax notices.
    "40": _f("numero_fiscal", "Numéro fiscal", 13, 13),
    "41": _f("rfr", "Revenu fiscal de référence", 0, 12),
    "42": _f("situation_foyer", "Situation du foyer", 0, None),
    "43": _f("nb_parts", "Nombre de parts", 1, 5),
    "44": _f("reference_avis", "Référence de l'avis d'impôt", 13, 13),
    "45": _f("annee_revenus", "Année des revenus", 4, 4),
    "46": _f("declarant_1", "Déclarant 1", 0, 38),
    "47": _f("numero_fiscal_declarant_1", "Numéro fiscal du déclarant 1", 13, 13),
    "48": _f("declarant_2", "Déclarant 2", 0, 38),
    "49": _f("numero_fiscal_declarant_2", "Numéro fiscal du déclarant 2", 13, 13),
    "4A": _f("date_recouvrement", "Date de mise en recouvrement", 8, 8),
    "4V": _f("impot_net", "Impôt sur le revenu net", 0, None),
    "4W": _f("reste_a_payer", "Reste à payer", 0, None),
    "4X": _f("retenue_a_la_source", "Retenue à la source", 0, None),
    "4Y": _f("adresse", "Adresse", 0, None),
    "6U": _f("adresse_voie", "Adresse (voie)", 0, 38),
    "6V": _f("adresse_complement", "Adresse (complément)", 0, 38),
    "6W": _f("adresse_code_postal", "Code postal", 5, 5),
    "6X": _f("adresse_commune", "Commune", 0, 32),
    "6Y": _f("adresse_pays", "Pays", 2, 2),
    # Payslips.
    "4U": _f("employeur", "Dénomination sociale de l'employeur", 0, 38),
    "50": _f("siret_employeur", "SIRET de l'employeur", 14, 14),
    "51": _f("heures", "Nombre d'heures travaillées", 6, 6),
    "52": _f("cumul_heures", "Cumul du nombre d'heures travaillées", 7, 7),
    "53": _f("debut_periode", "Début de période", 4, 4),
    "54": _f("fin_periode", "Fin de période", 4, 4),
    "55": _f("debut_contrat", "Date de début de contrat", 8, 8),
    "58": _f("net_imposable", "Salaire net imposable", 0, 11),
    "59": _f("cumul_net_imposable", "Cumul du salaire net imposable", 0, 12),
    "5A": _f("brut", "Salaire brut du mois", 0, 11),
    "5B": _f("cumul_brut", "Cumul du salaire brut", 0, 12),
    "5C": _f("net", "Salaire net", 0, 11),
}

# The document types (perimeter 01) the vault reads, by their two-character code.
DOCUMENT_TYPES = {
    "00": "Justificatif de domicile",
    "01": "Justificatif de domicile",
    "02": "Justificatif de domicile",
    "06": "Bulletin de salaire",
    "28": "Avis d'impôt sur le revenu",
}


@dataclass(frozen=True)
class ParsedField:
    """A field as read: its identifier, its definition when known, its value."""

    id: str
    value: str = field(repr=False)
    truncated: bool = False  # the issuer cut it to fit (it ended with RS)

    @property
    def definition(self) -> FieldDefinition | None:
        return FIELDS.get(self.id)


@dataclass(frozen=True)
class Message:
    """A 2D-Doc split as the specification says: header, fields, signed part, signature."""

    version: str
    authority: str
    certificate: str
    issued_on: date | None
    signed_on: date | None
    doc_type: str
    perimeter: str | None
    country: str | None
    fields: tuple[ParsedField, ...] = field(repr=False)
    signed: str = field(repr=False)  # everything before US: what the signature covers
    signature: str = ""  # base32, unpadded

    @property
    def type_label(self) -> str:
        return DOCUMENT_TYPES.get(self.doc_type, f"Document de type {self.doc_type}")


def parse(barcode: bytes) -> Message:
    """The message of a 2D-Doc barcode; MalformedMessage when it is not one."""
    text = barcode.decode("latin-1")  # one character a byte: the signed bytes are kept as read
    signed, separator, rest = text.partition(US)
    signature = rest.split(GS, 1)[0]  # an annex may follow the signature; it is not signed
    if not separator or not signature:
        raise MalformedMessage("no signature")
    version = signed[2:4]
    length = HEADER_LENGTHS.get(version)
    if not signed.startswith(MARKER) or length is None or len(signed) < length:
        raise MalformedMessage("not a 2D-Doc header")
    return Message(
        version=version,
        authority=signed[4:8],
        certificate=signed[8:12],
        issued_on=header_date(signed[12:16]),
        signed_on=header_date(signed[16:20]),
        doc_type=signed[20:22],
        perimeter=signed[22:24] if length >= 24 else None,
        country=signed[24:26] if length >= 26 else None,
        fields=parse_fields(signed[length:]),
        signed=signed,
        signature=signature,
    )


def parse_fields(data: str) -> tuple[ParsedField, ...]:
    """The fields, each read to its fixed length or to its separator."""
    fields: list[ParsedField] = []
    position = 0
    while position < len(data):
        field_id = data[position : position + 2]
        if len(field_id) < 2 or not field_id.isalnum():
            raise MalformedMessage("a field without its identifier")
        definition = FIELDS.get(field_id)
        start = position + 2
        if definition is not None and definition.fixed:
            end = start + (definition.max_length or 0)
            value, position, truncated = data[start:end], end, False
            if len(value) < (definition.max_length or 0):
                raise MalformedMessage(f"field {field_id} is shorter than its fixed length")
        else:  # variable, or unknown: read to its separator
            end = _separator(data, start)
            value, truncated = data[start:end], data[end : end + 1] == RS
            position = end + 1
        _check_length(field_id, definition, value, truncated)
        fields.append(ParsedField(field_id, value, truncated))
    return tuple(fields)


def _separator(data: str, start: int) -> int:
    ends = [found for found in (data.find(GS, start), data.find(RS, start)) if found >= 0]
    return min(ends, default=len(data))


def _check_length(
    field_id: str, definition: FieldDefinition | None, value: str, truncated: bool
) -> None:
    if definition is None or definition.fixed:
        return
    too_long = definition.max_length is not None and len(value) > definition.max_length
    if too_long or (len(value) < definition.min_length and not truncated):
        raise MalformedMessage(f"field {field_id} has a length the specification refuses")


def header_date(raw: str) -> date | None:
    """A header date: days since 2000-01-01 in 4 hexadecimal digits, FFFF when absent."""
    if raw.upper() == _NO_DATE:
        return None
    if len(raw) != 4 or any(char not in hexdigits for char in raw):
        raise MalformedMessage("a header date that is not hexadecimal")
    return _EPOCH + timedelta(days=int(raw, 16))
