"""Foyer data keys under the master keyring: rotation, versions in use, binding, no leaks."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coffre import keys
from coffre.clock import FrozenClock
from coffre.errors import KeyMissing
from coffre.keyring import KEY_BYTES, Keyring
from coffre.models import Document, Foyer, FoyerKey
from coffre.vault import Vault
from stockage import FilesystemStore
from tests.coffre.conftest import deposit, make_foyer, pdf_of

pytestmark = pytest.mark.usefixtures("db_session")


def with_new_version(keyring: Keyring) -> Keyring:
    """The keyring after an operator added the next master key version."""
    fresh = secrets.token_bytes(KEY_BYTES)
    return Keyring(keys=keyring.keys | {keyring.current_version + 1: fresh}, source="rotated")


def only_newest(keyring: Keyring) -> Keyring:
    """The keyring once every older version was retired."""
    newest = keyring.current_version
    return Keyring(keys={newest: keyring.key(newest)}, source="retired")


def blobs(store: FilesystemStore) -> dict[str, bytes]:
    contents = {}
    for key in store.keys("documents/"):
        with store.open(key) as blob:
            contents[key] = blob.read()
    return contents


def read_all(vault: Vault, session: Session) -> dict[int, bytes]:
    documents = session.scalars(select(Document).order_by(Document.id))
    return {document.id: b"".join(vault.plaintext(session, document)) for document in documents}


@pytest.fixture
def foyers(vault: Vault, db_session: Session, clock: FrozenClock) -> list[Foyer]:
    """Three foyers with a document each (so three data keys under version 1)."""
    made = [make_foyer(db_session, clock, label) for label in ("Martin", "Nguyen", "Diallo")]
    for number, foyer in enumerate(made):
        deposit(vault, db_session, foyer, pdf_of(3000 + number))
    return made


class Killed(Exception):
    """The rotating process died."""


class StoppingClock(FrozenClock):
    """A clock whose process is killed once it has been asked the time `calls` times."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def now(self) -> datetime:
        if self.calls == 0:
            raise Killed
        self.calls -= 1
        return super().now()


def test_rotation_rewraps_every_foyer_key_under_the_newest_version(
    vault: Vault, db_session: Session, clock: FrozenClock, foyers: list[Foyer]
) -> None:
    before = {row.foyer_id: row.wrapped_key for row in db_session.scalars(select(FoyerKey))}
    newer = with_new_version(vault.keyring)

    assert keys.rotate_kek(db_session, newer, clock) == 3

    rows = db_session.scalars(select(FoyerKey)).all()
    assert {row.kek_version for row in rows} == {2}
    assert all(before[row.foyer_id] != row.wrapped_key for row in rows)
    assert keys.rotate_kek(db_session, newer, clock) == 0


def test_rotation_leaves_every_blob_byte_identical(
    vault: Vault,
    db_session: Session,
    clock: FrozenClock,
    store: FilesystemStore,
    foyers: list[Foyer],
) -> None:
    before = blobs(store)

    keys.rotate_kek(db_session, with_new_version(vault.keyring), clock)

    assert len(before) == 3
    assert blobs(store) == before


def test_documents_still_read_once_the_old_version_is_retired(
    vault: Vault, db_session: Session, clock: FrozenClock, foyers: list[Foyer]
) -> None:
    expected = read_all(vault, db_session)
    newer = with_new_version(vault.keyring)
    keys.rotate_kek(db_session, newer, clock)

    vault.keyring = only_newest(newer)

    assert read_all(vault, db_session) == expected
    assert sorted(expected.values()) == sorted(pdf_of(3000 + n) for n in range(3))


def test_documents_do_not_read_if_the_old_version_is_retired_before_rotating(
    vault: Vault, db_session: Session, foyers: list[Foyer]
) -> None:
    vault.keyring = only_newest(with_new_version(vault.keyring))

    with pytest.raises(KeyMissing, match="master key version 1 is not in the keyring"):
        read_all(vault, db_session)


def test_versions_in_use_counts_the_keys_each_version_wraps(
    vault: Vault, db_session: Session, clock: FrozenClock, foyers: list[Foyer]
) -> None:
    assert keys.versions_in_use(db_session) == {1: 3}
    newer = with_new_version(vault.keyring)
    vault.keyring = newer
    late = make_foyer(db_session, clock, "Leroy")
    deposit(vault, db_session, late, pdf_of(4000))  # a new foyer key is wrapped by the newest

    assert keys.versions_in_use(db_session) == {1: 3, 2: 1}
    keys.rotate_kek(db_session, newer, clock)
    assert keys.versions_in_use(db_session) == {2: 4}


def test_wrapped_key_copied_onto_another_foyers_row_does_not_unwrap(
    vault: Vault, db_session: Session, foyers: list[Foyer]
) -> None:
    mine, theirs = foyers[0].id, foyers[1].id
    stolen = db_session.get_one(FoyerKey, mine).wrapped_key
    db_session.execute(
        update(FoyerKey).where(FoyerKey.foyer_id == theirs).values(wrapped_key=stolen)
    )
    db_session.expire_all()

    with pytest.raises(KeyMissing, match=f"foyer {theirs}: the wrapped data key does not unwrap"):
        keys.data_key(db_session, vault.keyring, theirs)
    assert keys.data_key(db_session, vault.keyring, mine).foyer_id == mine


def test_wrapped_key_relabelled_with_another_version_does_not_unwrap(
    vault: Vault, db_session: Session, foyers: list[Foyer]
) -> None:
    vault.keyring = with_new_version(vault.keyring)
    row = db_session.get_one(FoyerKey, foyers[0].id)
    row.kek_version = 2
    db_session.flush()

    with pytest.raises(KeyMissing, match="does not unwrap"):
        keys.data_key(db_session, vault.keyring, foyers[0].id)


def test_data_key_and_keyring_reprs_show_no_key_bytes(
    vault: Vault, db_session: Session, foyers: list[Foyer]
) -> None:
    keyring = with_new_version(vault.keyring)
    data_key = keys.data_key(db_session, keyring, foyers[0].id)
    secrets_ = [data_key.material, *keyring.keys.values()]

    shown = " ".join([repr(data_key), str(data_key), repr(keyring), repr(vault)])

    for secret in secrets_:
        for spelling in (
            repr(secret),
            secret.hex(),
            base64.b64encode(secret).decode(),
            base64.urlsafe_b64encode(secret).decode(),
        ):
            assert spelling not in shown
    assert repr(data_key) == f"DataKey(foyer_id={foyers[0].id})"
    assert repr(keyring) == "Keyring(source='rotated')"


def test_rotation_interrupted_after_a_batch_resumes_where_it_stopped(
    vault: Vault, db_session: Session, foyers: list[Foyer]
) -> None:
    newer = with_new_version(vault.keyring)

    with pytest.raises(Killed):
        keys.rotate_kek(db_session, newer, StoppingClock(calls=1), batch=1)
    db_session.rollback()

    assert keys.versions_in_use(db_session) == {1: 2, 2: 1}
    assert keys.rotate_kek(db_session, newer, FrozenClock(), batch=1) == 2
    assert keys.versions_in_use(db_session) == {2: 3}
    vault.keyring = only_newest(newer)
    assert len(read_all(vault, db_session)) == 3


def test_rotation_in_batches_smaller_than_the_foyers_covers_them_all(
    vault: Vault, db_session: Session, clock: FrozenClock, foyers: list[Foyer]
) -> None:
    newer = with_new_version(vault.keyring)

    assert keys.rotate_kek(db_session, newer, clock, batch=2) == 3
    assert keys.versions_in_use(db_session) == {2: 3}


def test_destroyed_data_key_is_missing(
    vault: Vault, db_session: Session, foyers: list[Foyer]
) -> None:
    keys.destroy_data_key(db_session, foyers[0].id)

    with pytest.raises(KeyMissing, match=f"foyer {foyers[0].id} has no data key"):
        keys.data_key(db_session, vault.keyring, foyers[0].id)
    assert keys.versions_in_use(db_session) == {1: 2}
