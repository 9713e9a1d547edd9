"""Fixtures for the vault: a real store on disk, a fresh keyring, foyers made in the database."""

from __future__ import annotations

import io
import zlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.keyring import Keyring, new_key_text, parse_keyring
from coffre.models import Document, Foyer, FoyerMember, MemberRole
from coffre.vault import Limits, Upload, Vault
from stockage import FilesystemStore

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def pdf_of(size: int) -> bytes:
    """A PDF of exactly `size` bytes (a comment pads it), distinct for each size."""
    padding = max(0, size - len(MINIMAL_PDF) - 2)
    return MINIMAL_PDF + b"%" + (b"x" * padding) + b"\n"


class PdfStream:
    """A PDF of `size` bytes made line by line (never all in memory), failing after `fail_after`."""

    LINE = b"%" + b"0123456789abcdef" * 4 + b"\n"

    def __init__(self, size: int, fail_after: int | None = None) -> None:
        self.remaining = size
        self.fail_after = fail_after
        self.given = 0
        self._pending = MINIMAL_PDF

    def read(self, size: int = -1) -> bytes:
        if self.fail_after is not None and self.given >= self.fail_after:
            raise ConnectionResetError("client went away")
        size = self.remaining if size < 0 else min(size, self.remaining)
        while len(self._pending) < size:
            self._pending += self.LINE * (size // len(self.LINE) + 1)
        data, self._pending = self._pending[:size], self._pending[size:]
        self.remaining -= len(data)
        self.given += len(data)
        return data


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
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "objects")


@pytest.fixture
def vault(store: FilesystemStore, keyring: Keyring, clock: FrozenClock) -> Vault:
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
