"""A deposit's one pass: inspected, hashed and encrypted as read, written by a helper thread."""

from __future__ import annotations

import hashlib
import io
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffre.catalogue import JPEG, PDF
from coffre.crypto import binding, decrypt, encrypt
from coffre.inspection.uploads import UploadInspector, UploadRefused
from coffre.sealing import seal_into
from stockage import FilesystemStore, InvalidKey, ReadableStream
from tests.coffre.conftest import JpegStream, pdf_of
from tests.stockage.streams import MIB

KEY = bytes(range(32))
AAD = binding(7, "doc-1")


def sealing(plain: ReadableStream) -> Iterator[bytes]:
    return encrypt(KEY, 1, AAD, plain)


def inspector(limit: int = 50 * MIB) -> UploadInspector:
    return UploadInspector(frozenset({PDF, JPEG}), "scan.jpg", limit)


def stored_plaintext(store: FilesystemStore, key: str) -> bytes:
    with store.open(key) as blob:
        return b"".join(decrypt(lambda _key_id: KEY, AAD, blob))


class ShortReads:
    """Gives the content in reads of random lengths, as a network upload does."""

    def __init__(self, content: bytes) -> None:
        self._content = io.BytesIO(content)
        self._random = random.Random(4)

    def read(self, size: int = -1, /) -> bytes:
        return self._content.read(min(size, self._random.randint(1, 300_000)))


def test_the_digest_is_the_plaintexts_and_the_store_holds_it_encrypted(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "store")
    content = JpegStream(5 * MIB + 123).read()
    checked = inspector()

    digest = seal_into(store, "documents/1/a", ShortReads(content), checked, sealing)

    assert digest == hashlib.sha256(content).hexdigest()
    assert stored_plaintext(store, "documents/1/a") == content
    assert checked.finish().size == len(content)


def test_a_refusal_midway_is_raised_and_the_store_keeps_nothing(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "store")

    with pytest.raises(UploadRefused) as refused:
        seal_into(store, "documents/1/a", JpegStream(12 * MIB), inspector(limit=6 * MIB), sealing)

    assert refused.value.code == "too_large"
    assert list(store.keys()) == []


def test_a_storage_failure_ends_the_deposit_with_its_error_without_hanging(
    tmp_path: Path,
) -> None:
    store = FilesystemStore(tmp_path / "store")
    before = threading.active_count()

    # The store refuses the key before reading a byte; the sealing loop must not wait on it.
    with pytest.raises(InvalidKey):
        seal_into(store, "documents//a", JpegStream(12 * MIB), inspector(), sealing)

    assert list(store.keys()) == []
    assert threading.active_count() == before  # the helper threads are gone


def test_a_pdf_is_still_held_whole_for_its_parser(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "store")
    content = pdf_of(3 * MIB)
    checked = UploadInspector(frozenset({PDF}), "avis.pdf", 50 * MIB)

    seal_into(store, "documents/1/b", io.BytesIO(content), checked, sealing)

    assert checked.finish().mime_type == PDF
    assert stored_plaintext(store, "documents/1/b") == content
