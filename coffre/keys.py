"""Each foyer's data key: made once, stored only wrapped by the master keyring.

Wrapping is AES-256-GCM under a master key version, with the foyer id and that version as
associated data, so a wrapped key copied onto another foyer's row does not unwrap.
Destroying the row crypto-shreds every document of the foyer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.errors import KeyMissing
from coffre.journal import chain as journal
from coffre.keyring import KEY_BYTES, Keyring, KeyringError
from coffre.models import FoyerKey

NONCE_BYTES = 12
# The id written in each blob's header: the generation of the foyer's data key.
DATA_KEY_ID = 1


@dataclass(frozen=True)
class DataKey:
    """A foyer's unwrapped data key (never printed)."""

    foyer_id: int
    material: bytes = field(repr=False)


def _aad(foyer_id: int, version: int) -> bytes:
    return f"coffre/foyer-key/v1/foyer={foyer_id}/kek={version}".encode()


def _wrap(keyring: Keyring, foyer_id: int, material: bytes) -> tuple[int, bytes]:
    version = keyring.current_version
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(keyring.key(version)).encrypt(nonce, material, _aad(foyer_id, version))
    return version, nonce + sealed


def _unwrap(keyring: Keyring, row: FoyerKey) -> bytes:
    try:
        kek = keyring.key(row.kek_version)
    except KeyringError:
        raise KeyMissing(
            f"foyer {row.foyer_id}: master key version {row.kek_version} is not in the keyring"
        ) from None
    nonce, sealed = row.wrapped_key[:NONCE_BYTES], row.wrapped_key[NONCE_BYTES:]
    try:
        return AESGCM(kek).decrypt(nonce, sealed, _aad(row.foyer_id, row.kek_version))
    except InvalidTag:
        raise KeyMissing(f"foyer {row.foyer_id}: the wrapped data key does not unwrap") from None


def create_data_key(session: Session, keyring: Keyring, clock: Clock, foyer_id: int) -> DataKey:
    """Make the foyer's data key and store it wrapped (in the caller's transaction)."""
    material = os.urandom(KEY_BYTES)
    version, wrapped = _wrap(keyring, foyer_id, material)
    now = clock.now()
    session.add(
        FoyerKey(
            foyer_id=foyer_id,
            kek_version=version,
            wrapped_key=wrapped,
            created_at=now,
            wrapped_at=now,
        )
    )
    journal.record(session, clock, "key.created", foyer_id=foyer_id, details={"kek": version})
    return DataKey(foyer_id, material)


def data_key(session: Session, keyring: Keyring, foyer_id: int) -> DataKey:
    """The foyer's unwrapped data key; KeyMissing when it was destroyed or cannot unwrap."""
    row = session.get(FoyerKey, foyer_id)
    if row is None:
        raise KeyMissing(f"foyer {foyer_id} has no data key")
    return DataKey(foyer_id, _unwrap(keyring, row))


def ensure_data_key(session: Session, keyring: Keyring, clock: Clock, foyer_id: int) -> DataKey:
    """The foyer's data key, made on first use."""
    if session.get(FoyerKey, foyer_id) is None:
        return create_data_key(session, keyring, clock, foyer_id)
    return data_key(session, keyring, foyer_id)


def rotate_kek(session: Session, keyring: Keyring, clock: Clock, batch: int = 500) -> int:
    """Rewrap every data key not under the newest master key; documents are untouched.

    Commits every `batch` keys, so a long rotation can stop and resume; returns the count.
    """
    newest = keyring.current_version
    rotated = 0
    while True:
        rows = session.scalars(
            select(FoyerKey).where(FoyerKey.kek_version != newest).limit(batch).with_for_update()
        ).all()
        if not rows:
            break
        for row in rows:
            material = _unwrap(keyring, row)
            row.kek_version, row.wrapped_key = _wrap(keyring, row.foyer_id, material)
            row.wrapped_at = clock.now()
        rotated += len(rows)
        session.commit()
    journal.record(session, clock, "key.rotated", details={"kek": newest, "count": rotated})
    session.commit()
    return rotated


def versions_in_use(session: Session) -> dict[int, int]:
    """How many data keys each master key version wraps (a version at 0 can be retired)."""
    query = select(FoyerKey.kek_version, func.count()).group_by(FoyerKey.kek_version)
    return {int(version): int(count) for version, count in session.execute(query)}


def destroy_data_key(session: Session, foyer_id: int) -> None:
    """Delete the wrapped key: every blob of the foyer becomes undecryptable."""
    session.execute(delete(FoyerKey).where(FoyerKey.foyer_id == foyer_id))
