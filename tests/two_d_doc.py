"""2D-Docs of the tests' own: a test authority (FR00) and its signing certificate, made here.

The authority and signing keys are EC P-256, generated once per test session; nothing is
downloaded. `message` builds a tax notice's 2D-Doc as the ANTS specifies it (a version 04
header, then the fields: a fixed-length one followed directly by the next identifier, a
variable one ended by GS, or RS when truncated), `sign` adds US and the base32 signature r||s
over what comes before US, `png` and `pdf` print it as a DataMatrix.
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fpdf import FPDF
from PIL import Image

from coffre.inspection.two_d_doc import libdmtx

AUTHORITY = "FR00"
CERTIFICATE = "0001"
EPOCH = date(2000, 1, 1)
TAX_NOTICE = "28"
GS, RS, US = "\x1d", "\x1e", "\x1f"
NOTICE_FIELDS = {
    "41": "23456",  # revenu fiscal de référence (variable)
    "43": "2,5",  # nombre de parts (variable)
    "44": "2526A12345678",  # référence de l'avis (13, fixed)
    "45": "2025",  # année des revenus (4, fixed)
    "46": "MARTIN CLAIRE",  # déclarant 1 (variable)
    "47": "1234567890123",  # son numéro fiscal (13, fixed)
    "4A": "31072026",  # date de mise en recouvrement (8, fixed)
    "4Y": "12 RUE DES LILAS 69001 LYON",  # adresse (variable, last)
}
FIXED = frozenset({"44", "45", "47", "4A", "6W", "6Y"})


@dataclass(frozen=True)
class SampleAuthority:
    """The test authority's and signer's certificates, and the signer's key."""

    authority: x509.Certificate
    signer: x509.Certificate
    key: ec.EllipticCurvePrivateKey = field(repr=False)

    def write(self, directory: Path) -> Path:
        """The trust store the code reads: both certificates as PEM files."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "FR00.pem").write_bytes(self.authority.public_bytes(Encoding.PEM))
        (directory / "FR00_0001.pem").write_bytes(self.signer.public_bytes(Encoding.PEM))
        return directory


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portail tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    authority: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3650))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def make_authority() -> SampleAuthority:
    """A fresh test authority FR00 and its signing certificate 0001."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    authority = _certificate(AUTHORITY, ca_key, AUTHORITY, ca_key, authority=True)
    signer = _certificate(CERTIFICATE, key, AUTHORITY, ca_key, authority=False)
    return SampleAuthority(authority, signer, key)


def _day(day: date) -> str:
    return f"{(day - EPOCH).days:04X}"


def message(
    fields: dict[str, str] | None = None,
    issued_on: date = date(2026, 7, 31),
    truncated: frozenset[str] = frozenset(),
) -> str:
    """The signed part of a tax notice's 2D-Doc: a version 04 header (type, perimeter 01,
    country FR) and the fields; those named in `truncated` end with RS."""
    day = _day(issued_on)
    header = f"DC04{AUTHORITY}{CERTIFICATE}{day}{day}{TAX_NOTICE}01FR"
    return header + fields_data(fields or NOTICE_FIELDS, truncated)


def fields_data(fields: dict[str, str], truncated: frozenset[str] = frozenset()) -> str:
    """The fields as the specification joins them: a fixed-length value directly followed by
    the next identifier, a variable one by GS (RS when truncated), the last one by nothing."""
    data = ""
    for index, (fid, value) in enumerate(fields.items()):
        last = index == len(fields) - 1
        ending = "" if fid in FIXED else RS if fid in truncated else "" if last else GS
        data += fid + value + ending
    return data


def sign(text: str, key: ec.EllipticCurvePrivateKey) -> str:
    """The 2D-Doc: the message, US, and the base32 (unpadded) r||s signature."""
    r, s = decode_dss_signature(key.sign(text.encode("latin-1"), ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return text + US + base64.b32encode(raw).decode().rstrip("=")


def png(content: str) -> bytes:
    """The 2D-Doc as a DataMatrix in a PNG, with a quiet margin."""
    encoded = libdmtx().encode(content.encode("latin-1"), size="ShapeAuto")
    matrix = Image.frombytes("RGB", (encoded.width, encoded.height), encoded.pixels)
    page = Image.new("L", (matrix.width * 2 + 200, matrix.height * 2 + 200), 255)
    page.paste(matrix.convert("L").resize((matrix.width * 2, matrix.height * 2)), (100, 100))
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()


def pdf(content: str | None) -> bytes:
    """An A4 notice: some text, and the 2D-Doc's DataMatrix in the top corner (if any)."""
    document = FPDF()
    document.add_page()
    document.set_font("Helvetica", size=12)
    document.cell(text="Avis d'imposition 2026 sur les revenus 2025")
    if content is not None:
        document.image(io.BytesIO(png(content)), x=150, y=10, w=40)
    return bytes(document.output())


@functools.cache
def own_authority() -> SampleAuthority:
    """The session's test authority (generating keys once is enough)."""
    return make_authority()
