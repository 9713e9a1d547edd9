"""Fixtures for the vault: a real store on disk, a fresh keyring, foyers made in the database."""

from __future__ import annotations

import io
import zlib
from datetime import date

import pytest
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.keyring import Keyring, new_key_text, parse_keyring
from coffre.models import Document, Foyer, FoyerMember, MemberRole
from coffre.vault import Limits, Upload, Vault
from stockage import ObjectStore, open_store

PDF_OBJECTS = (
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
)
PADDING_LINE = b"%" + b"0123456789abcdef" * 4 + b"\n"


def _pdf_around(padding: int) -> tuple[bytes, bytes]:
    """The bytes before and after `padding` bytes of comment lines, in a valid one-page PDF.

    The padding sits between the header and the objects, so the cross-reference table at
    the end, which readers look for in the last kilobyte, still points at them.
    """
    head = b"%PDF-1.4\n%"
    body = bytearray(b"\n")
    offsets = []
    for number, content in enumerate(PDF_OBJECTS, start=1):
        offsets.append(len(head) + padding + len(body))
        body += f"{number} 0 obj\n".encode() + content + b"\nendobj\n"
    xref = len(head) + padding + len(body)
    body += f"xref\n0 {len(PDF_OBJECTS) + 1}\n0000000000 65535 f \n".encode()
    body += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    body += f"trailer\n<< /Size {len(PDF_OBJECTS) + 1} /Root 1 0 R >>\n".encode()
    body += f"startxref\n{xref}\n%%EOF\n".encode()
    return head, bytes(body)


def pdf_parts(size: int) -> tuple[bytes, int, bytes]:
    """Head, padding length and tail of a valid PDF of `size` bytes (or the smallest one)."""
    padding = 0
    for _ in range(3):  # the tail grows by a digit at most once as the padding grows
        head, tail = _pdf_around(padding)
        padding = max(0, size - len(head) - len(tail))
    head, tail = _pdf_around(padding)
    return head, padding, tail


def padding(length: int) -> bytes:
    return (PADDING_LINE * (length // len(PADDING_LINE) + 1))[:length]


def pdf_of(size: int) -> bytes:
    """A valid PDF of exactly `size` bytes (comment lines pad it), distinct for each size."""
    head, length, tail = pdf_parts(size)
    return head + padding(length) + tail


MINIMAL_PDF = pdf_of(0)


class PaddedStream:
    """`head`, padding lines, then `tail`: `size` bytes made line by line (never all in memory).

    Reading fails with a dropped connection after `fail_after` bytes, when given.
    """

    def __init__(self, head: bytes, size: int, tail: bytes, fail_after: int | None = None) -> None:
        self.remaining = size
        self.fail_after = fail_after
        self.given = 0
        self._pending = head
        self._padding = max(0, size - len(head) - len(tail))
        self._tail = tail

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.given >= self.fail_after:
            raise ConnectionResetError("client went away")
        size = self.remaining if size < 0 else min(size, self.remaining)
        while len(self._pending) < size:
            # Whole lines, so the pattern runs on as in `padding`; the tail once they are out.
            lines = min(self._padding, (size // len(PADDING_LINE) + 1) * len(PADDING_LINE))
            self._pending += padding(lines) if lines else self._tail
            self._padding -= lines
            if not lines:
                self._tail = b""
        data, self._pending = self._pending[:size], self._pending[size:]
        self.remaining -= len(data)
        self.given += len(data)
        return data


class PdfStream(PaddedStream):
    """A valid PDF of `size` bytes, equal to `pdf_of(size)`, made line by line."""

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        head, _, tail = pdf_parts(size)
        super().__init__(head, size, tail, fail_after)


class JpegStream(PaddedStream):
    """A 1x1 JPEG of `size` bytes, its scan padded (no 0xFF byte: no marker), line by line."""

    def __init__(self, size: int) -> None:
        soi, app0 = b"\xff\xd8", b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        sof0 = b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
        sos = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
        super().__init__(soi + app0 + sof0 + sos, size, b"\xff\xd9")


def tiny_png() -> bytes:
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def keyring() -> Keyring:
    return parse_keyring(f"1:{new_key_text()}", "test")


@pytest.fixture
def store(storage_url: str) -> ObjectStore:
    """The deployment's store: files on disk, or a fresh bucket on the S3 server."""
    return open_store(storage_url)


@pytest.fixture
def vault(store: ObjectStore, keyring: Keyring, clock: FrozenClock) -> Vault:
    return Vault(store=store, keyring=keyring, clock=clock, limits=Limits())


def make_foyer(session: Session, clock: FrozenClock, label: str = "Foyer") -> Foyer:
    foyer = Foyer(label=label, created_at=clock.now())
    foyer.members = [
        FoyerMember(role=MemberRole.ADULTE, first_name="Alex", last_name=label),
        FoyerMember(role=MemberRole.ENFANT, first_name="Lou", last_name=label),
    ]
    session.add(foyer)
    session.commit()
    return foyer


@pytest.fixture
def foyer(db_session: Session, clock: FrozenClock) -> Foyer:
    return make_foyer(db_session, clock, "Martin")


@pytest.fixture
def other_foyer(db_session: Session, clock: FrozenClock) -> Foyer:
    return make_foyer(db_session, clock, "Nguyen")


def deposit(
    vault: Vault,
    session: Session,
    foyer: Foyer,
    content: bytes | None = None,
    *,
    type_code: str = "justificatif_domicile",
    filename: str = "facture.pdf",
    issued_on: date = date(2026, 8, 20),
    **options: object,
) -> Document:
    upload = Upload(
        foyer_id=foyer.id,
        type_code=type_code,
        filename=filename,
        stream=io.BytesIO(MINIMAL_PDF if content is None else content),
        issued_on=issued_on,
        **options,  # type: ignore[arg-type]
    )
    return vault.deposit(session, upload)
