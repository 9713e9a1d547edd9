"""Depositing, reading, replacing and deleting documents through the vault service."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coffre import keys
from coffre.clock import FrozenClock
from coffre.consent import FamilyReader
from coffre.errors import DocumentNotFound, KeyMissing, MemberNotInFoyer
from coffre.inspection.uploads import UploadRefused
from coffre.models import Channel, Document, DocumentState, Foyer
from coffre.vault import DocumentDamaged, Limits, Upload, Vault
from stockage import FilesystemStore
from tests.coffre.conftest import (
    MINIMAL_PDF,
    JpegStream,
    PdfStream,
    deposit,
    pdf_of,
    tiny_png,
)
from tests.coffre.pdfs import built_pdf, javascript, open_action
from tests.stockage.streams import MIB

pytestmark = pytest.mark.usefixtures("db_session")


def read_back(vault: Vault, session: Session, foyer: Foyer, document: Document) -> bytes:
    opened = vault.open(session, FamilyReader(None, foyer.id), document.id)
    return b"".join(opened.chunks)


def blob_count(store: FilesystemStore) -> int:
    return sum(1 for _ in store.keys("documents/"))


def test_deposited_document_reads_back_identical(
    vault: Vault, db_session: Session, foyer: Foyer
) -> None:
    content = pdf_of(300_000)
    document = deposit(vault, db_session, foyer, content)

    assert read_back(vault, db_session, foyer, document) == content
    assert document.size == len(content)
    assert document.mime_type == "application/pdf"
    assert document.state is DocumentState.DEPOSE


def test_an_opened_document_is_read_from_the_store_alone_once_the_read_is_committed(
    vault: Vault, sessions: sessionmaker[Session], foyer: Foyer
) -> None:
    content = pdf_of(300_000)
    # A session that refuses any use once closed: a stream still needing it would fail.
    with sessions(close_resets_only=False) as session:
        document = deposit(vault, session, foyer, content)
        opened = vault.open(session, FamilyReader(None, foyer.id), document.id)
        # No transaction left: sent slowly, the file would otherwise hold SQLite's write lock.
        assert not session.in_transaction()

    assert b"".join(opened.chunks) == content


def test_a_document_of_many_segments_reads_back_identical_through_open(
    vault: Vault, db_session: Session, foyer: Foyer
) -> None:
    content = JpegStream(7 * MIB + 5).read()
    document = deposit(vault, db_session, foyer, content, filename="scan.jpg")

    assert read_back(vault, db_session, foyer, document) == content


def test_the_recorded_digest_is_the_plaintexts_and_a_verify_checks_it(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore
) -> None:
    content = pdf_of(2 * MIB)
    document = deposit(vault, db_session, foyer, content)

    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert b"".join(vault.plaintext(db_session, document, check_digest=True)) == content
    document.sha256 = hashlib.sha256(b"another file").hexdigest()
    with pytest.raises(DocumentDamaged, match="digest"):
        b"".join(vault.plaintext(db_session, document, check_digest=True))


def test_a_pdf_with_a_script_is_refused_and_leaves_nothing(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore
) -> None:
    with pytest.raises(UploadRefused) as refused:
        deposit(vault, db_session, foyer, built_pdf(open_action(javascript())))

    assert refused.value.code == "pdf_javascript"
    assert blob_count(store) == 0
    assert db_session.scalar(select(func.count()).select_from(Document)) == 0


def test_blob_on_disk_holds_no_plaintext(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore
) -> None:
    marker = b"UNIQUE-PLAINTEXT-MARKER-1234567890"
    document = deposit(vault, db_session, foyer, MINIMAL_PDF + b"%" + marker + b"\n")

    with store.open(document.blob_key) as blob:
        stored = blob.read()
    assert marker not in stored
    assert b"%PDF" not in stored


def test_validity_follows_the_document_type(
    vault: Vault, db_session: Session, foyer: Foyer
) -> None:
    address = deposit(vault, db_session, foyer, issued_on=date(2026, 8, 31))
    tax = deposit(vault, db_session, foyer, type_code="avis_imposition", issued_on=date(2026, 8, 1))
    vaccines = deposit(vault, db_session, foyer, type_code="carnet_vaccination")

    assert address.valid_until == date(2026, 11, 30)
    assert tax.valid_until == date(2027, 12, 31)
    assert vaccines.valid_until is None


def test_replacing_keeps_the_old_version_in_history(
    vault: Vault, db_session: Session, foyer: Foyer
) -> None:
    first = deposit(vault, db_session, foyer, pdf_of(2000))
    second = deposit(vault, db_session, foyer, pdf_of(3000), replaces_id=first.id)

    history = vault.history(db_session, foyer.id, second.id)
    assert [version.id for version in history] == [second.id, first.id]
    assert first.superseded_at is not None
    assert read_back(vault, db_session, foyer, first) == pdf_of(2000)


def test_refused_content_leaves_neither_blob_nor_row(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore
) -> None:
    with pytest.raises(UploadRefused) as refused:
        deposit(
            vault, db_session, foyer, b"<html><script>alert(1)</script></html>", filename="a.pdf"
        )

    assert refused.value.code in {"dangerous_content", "type_not_allowed"}
    assert blob_count(store) == 0
    assert db_session.scalar(select(func.count()).select_from(Document)) == 0


def test_upload_interrupted_midway_leaves_nothing(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore
) -> None:
    broken = PdfStream(10 * MIB, fail_after=3 * MIB)
    upload = Upload(foyer.id, "justificatif_domicile", "a.pdf", broken, date(2026, 9, 1))
    with pytest.raises(ConnectionResetError):
        vault.deposit(db_session, upload)

    assert blob_count(store) == 0
    assert db_session.scalar(select(func.count()).select_from(Document)) == 0


def test_document_over_the_size_limit_is_refused(
    store: FilesystemStore, keyring: object, clock: FrozenClock, db_session: Session, foyer: Foyer
) -> None:
    small = Vault(store, keyring, clock, Limits(document_bytes=100_000))  # type: ignore[arg-type]

    with pytest.raises(UploadRefused) as refused:
        deposit(small, db_session, foyer, pdf_of(100_001))

    assert refused.value.code == "too_large"
    assert blob_count(store) == 0


def test_foyer_over_its_quota_is_refused_with_a_quota_message(
    store: FilesystemStore, keyring: object, clock: FrozenClock, db_session: Session, foyer: Foyer
) -> None:
    tight = Vault(store, keyring, clock, Limits(document_bytes=60_000, foyer_bytes=100_000))  # type: ignore[arg-type]
    deposit(tight, db_session, foyer, pdf_of(50_000))

    with pytest.raises(UploadRefused) as refused:
        deposit(tight, db_session, foyer, pdf_of(55_000))

    assert refused.value.code == "quota"
    assert "plein" in refused.value.message
    assert blob_count(store) == 1


def test_member_of_another_foyer_is_refused(
    vault: Vault, db_session: Session, foyer: Foyer, other_foyer: Foyer
) -> None:
    with pytest.raises(MemberNotInFoyer):
        deposit(vault, db_session, foyer, member_id=other_foyer.members[1].id)


def test_counter_deposit_records_its_channel_and_agent(
    vault: Vault, db_session: Session, foyer: Foyer
) -> None:
    document = deposit(
        vault,
        db_session,
        foyer,
        tiny_png(),
        filename="scan.png",
        channel=Channel.GUICHET,
        actor_id=42,
    )

    assert document.channel is Channel.GUICHET
    assert document.deposited_by == 42
    assert document.mime_type == "image/png"


def test_family_cannot_read_another_foyers_document(
    vault: Vault, db_session: Session, foyer: Foyer, other_foyer: Foyer
) -> None:
    document = deposit(vault, db_session, foyer)

    with pytest.raises(DocumentNotFound):
        vault.open(db_session, FamilyReader(None, other_foyer.id), document.id)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_blob_is_reported_and_no_altered_byte_is_returned(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore, damage: str
) -> None:
    document = deposit(vault, db_session, foyer, pdf_of(200_000))
    with store.open(document.blob_key) as blob:
        sealed = bytearray(blob.read())
    if damage == "flip":
        sealed[len(sealed) // 2] ^= 0x01
        store.put(document.blob_key, io.BytesIO(bytes(sealed)))
    elif damage == "truncate":
        store.put(document.blob_key, io.BytesIO(bytes(sealed[:-100])))
    else:
        store.delete(document.blob_key)

    given = []
    with pytest.raises(DocumentDamaged) as damaged:
        given.extend(vault.plaintext(db_session, document))
    assert damaged.value.document_id == document.id
    assert b"".join(given) == pdf_of(200_000)[: len(b"".join(given))]


def test_blob_moved_to_another_foyer_is_refused(
    vault: Vault, db_session: Session, foyer: Foyer, other_foyer: Foyer, store: FilesystemStore
) -> None:
    mine = deposit(vault, db_session, foyer, pdf_of(5000))
    theirs = deposit(vault, db_session, other_foyer, pdf_of(5000))
    with store.open(mine.blob_key) as blob:
        store.put(theirs.blob_key, io.BytesIO(blob.read()))

    with pytest.raises(DocumentDamaged):
        b"".join(vault.plaintext(db_session, theirs))


def test_delete_removes_every_version_and_its_blobs(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore
) -> None:
    first = deposit(vault, db_session, foyer, pdf_of(2000))
    second = deposit(vault, db_session, foyer, pdf_of(3000), replaces_id=first.id)

    vault.delete_document(db_session, foyer.id, second.id, actor_id=None)

    assert blob_count(store) == 0
    assert db_session.scalar(select(func.count()).select_from(Document)) == 0


def test_shredded_foyer_blob_copied_aside_can_no_longer_be_decrypted(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore, tmp_path: Path
) -> None:
    document = deposit(vault, db_session, foyer, pdf_of(10_000))
    with store.open(document.blob_key) as blob:
        (tmp_path / "copy").write_bytes(blob.read())

    removed = vault.shred_foyer(db_session, foyer.id, actor_id=None)

    assert removed == 1
    assert blob_count(store) == 0
    store.put(document.blob_key, io.BytesIO((tmp_path / "copy").read_bytes()))
    with pytest.raises(KeyMissing):
        b"".join(vault.plaintext(db_session, document))
    with pytest.raises(KeyMissing):
        keys.data_key(db_session, vault.keyring, foyer.id)
    assert foyer.shredded_at is not None and foyer.members == []


@pytest.mark.slow
def test_200_mb_document_streams_in_bounded_memory(
    store: FilesystemStore, keyring: object, clock: FrozenClock, db_session: Session, foyer: Foyer
) -> None:
    # An image: a PDF is held whole (within the document limit) for qpdf to parse it.
    big = Vault(store, keyring, clock, Limits(document_bytes=300 * MIB, foyer_bytes=300 * MIB))  # type: ignore[arg-type]
    source = JpegStream(200 * MIB)
    tracemalloc.start()
    try:
        document = big.deposit(
            db_session,
            Upload(foyer.id, "justificatif_domicile", "scan.jpg", source, date(2026, 9, 1)),
        )
        _, deposit_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        size = sum(len(chunk) for chunk in big.plaintext(db_session, document))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == 200 * MIB == document.size
    assert deposit_peak < 64 * MIB, f"deposit peaked at {deposit_peak / MIB:.1f} MiB"
    assert read_peak < 64 * MIB, f"read peaked at {read_peak / MIB:.1f} MiB"


def test_expired_state_is_set_once_the_validity_has_passed(
    vault: Vault, db_session: Session, foyer: Foyer, clock: FrozenClock
) -> None:
    from coffre.upkeep.maintenance import expire_documents

    old = deposit(vault, db_session, foyer, issued_on=date(2026, 5, 1))  # valid until 1 August
    soon = deposit(vault, db_session, foyer, issued_on=date(2026, 6, 15))  # until 15 September
    clock.advance(timedelta(days=1))

    report = expire_documents(db_session, clock)

    assert report.expired == [old.id]
    assert old.state is DocumentState.EXPIRE
    assert report.to_remind == [(foyer.id, soon.id)]
    assert expire_documents(db_session, clock).to_remind == []


def test_a_document_issued_in_the_future_is_refused(
    vault: Vault, db_session: Session, foyer: Foyer, store: FilesystemStore
) -> None:
    with pytest.raises(UploadRefused) as refused:
        deposit(vault, db_session, foyer, issued_on=date(2026, 9, 2))  # the clock: 1 September

    assert refused.value.code == "future_date"
    assert blob_count(store) == 0
