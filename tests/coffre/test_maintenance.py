"""Vault upkeep: verify every blob, sweep orphan blobs, expire and remind documents."""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from coffre import keys
from coffre.clock import FrozenClock
from coffre.journal import chain as journal
from coffre.keyring import Keyring
from coffre.models import Document, DocumentState, Foyer
from coffre.upkeep.maintenance import expire_documents, sweep_orphans, verify_blobs
from coffre.vault import Limits, Vault
from stockage import FilesystemStore, ObjectStore
from tests.coffre.conftest import deposit, pdf_of
from tests.stockage.conftest import make_minio_store

pytestmark = pytest.mark.usefixtures("db_session")


def sealed_bytes(store: ObjectStore, document: Document) -> bytes:
    with store.open(document.blob_key) as blob:
        return blob.read()


def flip_a_byte(store: ObjectStore, document: Document) -> None:
    sealed = bytearray(sealed_bytes(store, document))
    sealed[len(sealed) // 2] ^= 0x40
    store.put(document.blob_key, io.BytesIO(bytes(sealed)))


def truncate(store: ObjectStore, document: Document) -> None:
    store.put(document.blob_key, io.BytesIO(sealed_bytes(store, document)[:-64]))


def uid_at(moment: datetime) -> str:
    """A blob uid made at `moment` (same layout as `vault.new_uid`)."""
    return f"{int(moment.timestamp() * 1000):012x}{os.urandom(10).hex()}"


def put_orphan(store: FilesystemStore, foyer: Foyer, uid: str) -> str:
    key = f"documents/{foyer.id}/{uid}"
    store.put(key, io.BytesIO(b"sealed bytes of an interrupted deposit"))
    return key


def uid_time(document: Document) -> datetime:
    return datetime.fromtimestamp(int(document.uid[:12], 16) / 1000, UTC)


@pytest.fixture
def five(vault: Vault, db_session: Session, foyer: Foyer) -> list[Document]:
    return [deposit(vault, db_session, foyer, pdf_of(40_000 + n)) for n in range(5)]


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.s3)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The damage is done on disk, or in a bucket of the S3 server."""
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "objects")
    return make_minio_store(request.getfixturevalue("s3_server"))


def test_verify_lists_exactly_the_damaged_documents(
    any_store: ObjectStore,
    keyring: Keyring,
    clock: FrozenClock,
    db_session: Session,
    foyer: Foyer,
) -> None:
    store = any_store
    vault = Vault(store=store, keyring=keyring, clock=clock, limits=Limits())
    five = [deposit(vault, db_session, foyer, pdf_of(40_000 + n)) for n in range(5)]
    flipped, _, deleted, truncated, _ = five
    flip_a_byte(store, flipped)
    store.delete(deleted.blob_key)
    truncate(store, truncated)

    report = verify_blobs(db_session, vault)

    assert report.checked == 5
    assert [damage.document_id for damage in report.damaged] == [
        flipped.id,
        deleted.id,
        truncated.id,
    ]
    assert {damage.foyer_id for damage in report.damaged} == {flipped.foyer_id}
    assert "missing" in report.damaged[1].reason


def test_verify_of_an_intact_vault_reports_nothing(
    vault: Vault, db_session: Session, five: list[Document]
) -> None:
    report = verify_blobs(db_session, vault)

    assert (report.checked, report.damaged) == (5, [])


def test_verify_of_one_foyer_checks_only_its_documents(
    vault: Vault,
    db_session: Session,
    store: FilesystemStore,
    other_foyer: Foyer,
    five: list[Document],
) -> None:
    deposit(vault, db_session, other_foyer, pdf_of(9000))
    flip_a_byte(store, five[0])

    report = verify_blobs(db_session, vault, other_foyer.id)

    assert (report.checked, report.damaged) == (1, [])
    everywhere = verify_blobs(db_session, vault)
    assert everywhere.checked == 6
    assert [damage.document_id for damage in everywhere.damaged] == [five[0].id]


def test_verify_reports_documents_whose_foyer_key_is_gone(
    vault: Vault, db_session: Session, other_foyer: Foyer, five: list[Document]
) -> None:
    theirs = deposit(vault, db_session, other_foyer, pdf_of(9000))
    keys.destroy_data_key(db_session, other_foyer.id)

    report = verify_blobs(db_session, vault)

    assert report.checked == 6
    assert [(d.document_id, d.foyer_id) for d in report.damaged] == [(theirs.id, other_foyer.id)]
    assert "no data key" in report.damaged[0].reason


def test_sweep_removes_old_orphans_only(
    vault: Vault,
    db_session: Session,
    clock: FrozenClock,
    store: FilesystemStore,
    foyer: Foyer,
    five: list[Document],
) -> None:
    # Rows' uids carry the wall-clock time of their deposit: put "now" two hours after them,
    # so the blobs with a row are old enough that only their row keeps them.
    clock.current = max(uid_time(document) for document in five) + timedelta(hours=2)
    old = put_orphan(store, foyer, uid_at(clock.now() - timedelta(hours=1, minutes=1)))
    older = put_orphan(store, foyer, uid_at(clock.now() - timedelta(days=3)))
    young = put_orphan(store, foyer, uid_at(clock.now() - timedelta(minutes=50)))
    foreign = put_orphan(store, foyer, "not-one-of-our-uids")

    removed = sweep_orphans(db_session, vault, batch=2)

    assert sorted(removed) == sorted([old, older])
    remaining = set(store.keys("documents/"))
    assert remaining == {young, foreign} | {document.blob_key for document in five}
    assert sweep_orphans(db_session, vault) == []


def test_sweep_takes_the_age_from_the_vault_clock(
    vault: Vault, db_session: Session, clock: FrozenClock, store: FilesystemStore, foyer: Foyer
) -> None:
    orphan = put_orphan(store, foyer, uid_at(clock.now() - timedelta(minutes=30)))
    assert sweep_orphans(db_session, vault) == []

    clock.advance(timedelta(minutes=31))

    assert sweep_orphans(db_session, vault) == [orphan]
    assert not store.exists(orphan)


def test_replaced_versions_are_neither_expired_nor_reminded(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    stale = deposit(vault, db_session, foyer, pdf_of(1000), issued_on=date(2026, 5, 1))
    deposit(
        vault, db_session, foyer, pdf_of(1100), issued_on=date(2026, 8, 20), replaces_id=stale.id
    )
    soon = deposit(vault, db_session, foyer, pdf_of(1200), issued_on=date(2026, 6, 20))
    current = deposit(
        vault, db_session, foyer, pdf_of(1300), issued_on=date(2026, 6, 25), replaces_id=soon.id
    )
    # stale ended on 1 August, soon ends on 20 September: both would count if current.

    report = expire_documents(db_session, clock)

    assert (report.expired, report.to_remind) == ([], [(foyer.id, current.id)])
    assert stale.state is DocumentState.DEPOSE
    assert soon.expiry_reminded_on is None


def test_expiry_is_journaled_once_and_reminders_are_not_repeated(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    old = deposit(vault, db_session, foyer, pdf_of(1000), issued_on=date(2026, 5, 1))
    soon = deposit(vault, db_session, foyer, pdf_of(1100), issued_on=date(2026, 6, 20))

    first = expire_documents(db_session, clock)
    clock.advance(timedelta(days=1))
    second = expire_documents(db_session, clock)

    assert (first.expired, first.to_remind) == ([old.id], [(foyer.id, soon.id)])
    assert (second.expired, second.to_remind) == ([], [])
    assert soon.expiry_reminded_on == date(2026, 9, 1)
    expired = [
        (e.document_id, e.details)
        for e in journal.entries(db_session, journal.chain_of(foyer.id))
        if e.event == "document.expired"
    ]
    assert expired == [(old.id, "{}")]


def test_expiry_follows_the_date_in_france(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    document = deposit(vault, db_session, foyer, pdf_of(1000), issued_on=date(2026, 6, 1))
    assert document.valid_until == date(2026, 9, 1)
    clock.current = datetime(2026, 9, 1, 21, 30, tzinfo=UTC)  # 23:30 in Paris: still valid

    assert expire_documents(db_session, clock).expired == []

    clock.advance(timedelta(hours=1))  # 00:30 on 2 September in Paris, still the 1st in UTC
    assert expire_documents(db_session, clock).expired == [document.id]
    assert document.state is DocumentState.EXPIRE


def test_documents_without_an_end_never_expire(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    deposit(vault, db_session, foyer, type_code="carnet_vaccination", issued_on=date(2000, 1, 1))
    clock.advance(timedelta(days=3650))

    report = expire_documents(db_session, clock)

    assert (report.expired, report.to_remind) == ([], [])
