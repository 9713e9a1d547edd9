"""A document's 2D-Doc: the DataMatrix on its first pages, and whether the ANTS chain signed it.

A 2D-Doc (ANTS) is a header naming its certification authority and signing certificate, the
fields, and an ECDSA signature over both. It is authentic when that certificate is in the
trust list, was issued by that authority's certificate (itself in the list), was valid on the
signature date, and verifies the signature. Anything else found under a 2D-Doc header is
not valid, with the reason; a document with no DataMatrix starting with a 2D-Doc header has
none. The message is read as the specification lays it out (`two_d_doc_message`: its header
versions, its field table with fixed and variable lengths); py2ddoc checks the signature.

The plaintext is given in memory and stays there: PDF pages are rendered by pdfium, images
decoded by Pillow, the barcode read by libdmtx, each bounded (pages, pixels, milliseconds).
"""

from __future__ import annotations

import functools
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import ModuleType

import pypdfium2 as pdfium
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from PIL import Image
from py2ddoc import SignatureError, TrustStore
from py2ddoc.parser import ParsedDoc
from py2ddoc.verifier import verify

from coffre.inspection.two_d_doc_message import MalformedMessage, Message, ParsedField, parse

log = logging.getLogger(__name__)

MAX_PAGES = 2  # tax notices and bills carry it on their first page
MAX_SIDE = 2400  # pixels of the longer side: about 200 dpi on an A4 page
RENDER_DPI = 200
DECODE_MS = 2000  # libdmtx's time for one page or image
MAX_PIXELS = 40_000_000  # what the upload inspection already allows, checked again
PDF = "application/pdf"
IMAGES = frozenset({"image/png", "image/jpeg"})
READABLE = IMAGES | {PDF}


class Problem:
    """Why a 2D-Doc is not valid (codes stored with the document, worded by the web layer)."""

    UNREADABLE = "unreadable"  # a 2D-Doc header, but not a well-formed 2D-Doc
    UNKNOWN_AUTHORITY = "unknown_authority"
    UNKNOWN_CERTIFICATE = "unknown_certificate"
    CERTIFICATE_NOT_VALID = "certificate_not_valid"  # on the signature date
    SIGNATURE = "signature"  # altered data, or signed with another key


@dataclass(frozen=True)
class Field:
    """One field of a 2D-Doc: its id, its name and label where known, its value."""

    id: str
    name: str
    label: str
    value: str = field(repr=False)
    truncated: bool = False  # the issuer cut the value to fit the code


@dataclass(frozen=True)
class TwoDDoc:
    """A 2D-Doc found on a document: valid with what it carries, or the reason it is not."""

    valid: bool
    problem: str | None = None
    doc_type: str = ""
    type_label: str = ""
    authority: str = ""
    certificate: str = ""
    issued_on: date | None = None
    signed_on: date | None = None
    fields: tuple[Field, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class TrustList:
    """The authorities' certificates by authority id, and the signing certificates they issued
    by (authority id, certificate id)."""

    authorities: dict[str, list[x509.Certificate]]
    signers: dict[tuple[str, str], list[x509.Certificate]]


def read(content: bytes, mime_type: str, trust: TrustList) -> TwoDDoc | None:
    """The 2D-Doc on a PDF's first pages or on an image, verified; None when it carries none."""
    for barcode in barcodes(content, mime_type):
        if barcode.startswith(b"DC"):
            return check(barcode, trust)
    return None


def barcodes(content: bytes, mime_type: str) -> Iterator[bytes]:
    """The DataMatrix barcodes found, page by page; nothing for a file that cannot be read."""
    try:
        for image in _images(content, mime_type):
            for decoded in libdmtx().decode(image, timeout=DECODE_MS, max_count=1):
                yield decoded.data
    except (pdfium.PdfiumError, OSError, ValueError, Image.DecompressionBombError) as exc:
        # The upload inspection accepted it; pdfium or Pillow may still fail on it.
        log.info("2D-Doc: the file could not be rendered (%s)", type(exc).__name__)


@functools.cache
def libdmtx() -> ModuleType:
    """pylibdmtx, imported when first needed: only the worker reads barcodes, and the import
    loads libdmtx and warns of a deprecated version check of its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pylibdmtx import pylibdmtx

    return pylibdmtx


def _images(content: bytes, mime_type: str) -> Iterator[Image.Image]:
    if mime_type == PDF:
        yield from _pdf_pages(content)
    elif mime_type in IMAGES:
        with Image.open(io.BytesIO(content)) as image:
            if image.width * image.height > MAX_PIXELS:
                return
            image.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: decoded at a reduced size
            gray = image.convert("L")
        gray.thumbnail((MAX_SIDE, MAX_SIDE))
        yield gray


def _pdf_pages(content: bytes) -> Iterator[Image.Image]:
    pdf = pdfium.PdfDocument(content)
    try:
        for index in range(min(len(pdf), MAX_PAGES)):
            page = pdf[index]
            try:
                width, height = page.get_size()
                scale = min(RENDER_DPI / 72, MAX_SIDE / max(width, height, 1))
                yield page.render(scale=scale, grayscale=True).to_pil()
            finally:
                page.close()
    finally:
        pdf.close()


def check(barcode: bytes, trust: TrustList) -> TwoDDoc:
    """Parse a 2D-Doc as the ANTS specifies it and verify its signature against the trust list."""
    try:
        message = parse(barcode)
    except MalformedMessage:
        return TwoDDoc(valid=False, problem=Problem.UNREADABLE)
    problem = _verify(message, trust)
    if problem is not None:
        return TwoDDoc(valid=False, problem=problem)
    return TwoDDoc(
        valid=True,
        doc_type=message.doc_type,
        type_label=message.type_label,
        authority=message.authority,
        certificate=message.certificate,
        issued_on=message.issued_on,
        signed_on=message.signed_on,
        fields=tuple(_field(parsed) for parsed in message.fields),
    )


def _verify(message: Message, trust: TrustList) -> str | None:
    if message.authority not in trust.authorities:
        return Problem.UNKNOWN_AUTHORITY
    signers = trust.signers.get((message.authority, message.certificate), [])
    if not signers:
        return Problem.UNKNOWN_CERTIFICATE
    when = message.signed_on or date.max
    current = [cert for cert in signers if _valid_on(cert, when)]
    if not current:
        return Problem.CERTIFICATE_NOT_VALID
    signed = _signed(message)
    for cert in current:
        # One certificate at a time, under this authority only: py2ddoc would try every
        # certificate of the list when it finds none for the authority.
        store = TrustStore.from_der(message.authority, cert.public_bytes(Encoding.DER))
        try:
            verify(signed, store)
            return None
        except SignatureError:
            continue
        except ValueError:  # a signature that is not valid base32
            return Problem.UNREADABLE
    return Problem.SIGNATURE


def _signed(message: Message) -> ParsedDoc:
    """What py2ddoc's verifier reads: the signed part and the signature (its own parser
    misreads the header and the fields, so only these are handed over)."""
    return ParsedDoc(
        raw=message.signed,
        version=message.version,
        ca_id=message.authority,
        cert_id=message.certificate,
        doc_date=message.issued_on,
        sign_date=message.signed_on,
        doc_type=message.doc_type,
        fields={},
        message=message.signed,
        signature_b32=message.signature,
    )


def _valid_on(cert: x509.Certificate, day: date) -> bool:
    return cert.not_valid_before_utc.date() <= day <= cert.not_valid_after_utc.date()


def _field(parsed: ParsedField) -> Field:
    definition = parsed.definition
    if definition is None:
        return Field(parsed.id, parsed.id, parsed.id, parsed.value, parsed.truncated)
    return Field(parsed.id, definition.name, definition.label, parsed.value, parsed.truncated)


def load_trust_list(path: Path | None) -> TrustList:
    """The trust list from a TSL file or a directory; None: the ANTS list py2ddoc bundles.

    A directory holds TSL files (`*.xml`, ETSI TS 102 231, as the ANTS publishes) and
    certificates (`*.pem`, `*.crt`, `*.cer`, `*.der`): an authority's certificate (a CA,
    its id as its common name, FR00 the test authority) or a signing certificate (its
    certificate id as its common name), kept only when an authority of the list issued it.
    """
    certificates: list[tuple[str | None, x509.Certificate]] = []
    if path is None:
        certificates += _from_store(TrustStore.default())
    elif path.is_dir():
        for entry in sorted(path.iterdir()):
            certificates += _from_file(entry)
    else:
        certificates += _from_file(path)
    return _trust_list(certificates)


def _from_file(path: Path) -> list[tuple[str | None, x509.Certificate]]:
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return _from_store(TrustStore.from_tsl(path))
    if suffix in (".pem", ".crt"):
        return [(None, cert) for cert in x509.load_pem_x509_certificates(path.read_bytes())]
    if suffix in (".der", ".cer"):
        return [(None, x509.load_der_x509_certificate(path.read_bytes()))]
    return []


def _from_store(store: TrustStore) -> list[tuple[str | None, x509.Certificate]]:
    return [(entry.ca_id, entry.cert) for entry in store.all_entries()]


def _trust_list(certificates: list[tuple[str | None, x509.Certificate]]) -> TrustList:
    authorities: dict[str, list[x509.Certificate]] = {}
    others: list[x509.Certificate] = []
    for named, cert in certificates:
        if _is_authority(cert):
            authorities.setdefault(named or _common_name(cert), []).append(cert)
        else:
            others.append(cert)
    signers: dict[tuple[str, str], list[x509.Certificate]] = {}
    for cert in others:
        for authority_id, issuers in authorities.items():
            if any(_issued_by(cert, issuer) for issuer in issuers):
                signers.setdefault((authority_id, _common_name(cert)), []).append(cert)
    return TrustList(authorities, signers)


def _is_authority(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
