"""2D-Docs of the tests' own: a test authority (FR00) and its signing certificate, made here.

The authority and signing keys are EC P-256, generated once per test session; nothing is
downloaded. `sample` builds a tax notice's 2D-Doc as the ANTS specifies it (header, fields
separated by GS, US, the base32 signature r||s over what comes before US), `png` and `pdf`
print it as a DataMatrix.
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
TAX_NOTICE = "0001"
GS, US = "\x1d", "\x1f"
NOTICE_FIELDS = {
    "02": "23456",  # revenu fiscal de référence
    "03": "2.5",  # nombre de parts
    "07": "2025",
    "09": "MARTIN",
    "0A": "CLAIRE",
    "0B": "12 RUE DES LILAS",
    "0C": "69001",
    "0D": "LYON",
}


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


def message(fields: dict[str, str] | None = None, issued_on: date = date(2026, 7, 31)) -> str:
    """The signed part of a tax notice's 2D-Doc: header and fields."""
    header = f"DC03{AUTHORITY}{CERTIFICATE}{_day(issued_on)}{_day(issued_on)}{TAX_NOTICE}"
    return header + GS.join(fid + value for fid, value in (fields or NOTICE_FIELDS).items())


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
