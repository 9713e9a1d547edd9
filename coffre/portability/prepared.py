"""Exports of large vaults, prepared in the background (décret n° 2018-853).

A vault larger than the portal's threshold is not zipped within one request: an adult of
the foyer asks for its export, the worker builds the same ZIP as the inline export
(`coffre.portability.export`) and seals it into the object store encrypted with the foyer's
data key, as a deposit is (`coffre.sealing`); the adults are told by e-mail, and download it
from their vault page for KEPT days, after which its blob is deleted.

A pending export is claimed with FOR UPDATE SKIP LOCKED, then held by a lease (`claimed_at`)
rather than by the lock: the ZIP is built outside any transaction (on SQLite, a transaction
that wrote is the database's write lock, and a build may take minutes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from coffre import keys
from coffre.clock import Clock
from coffre.consent import FamilyReader
from coffre.crypto import IntegrityError, IteratorStream, binding, decrypt, encrypt
from coffre.errors import DocumentNotFound, FoyerShredded, KeyMissing, VaultError
from coffre.journal import chain as journal
from coffre.models import Document, ExportState, Foyer, ScanState, VaultExport
from coffre.portability.export import export_chunks
from coffre.sealing import seal_into
from coffre.vault import DocumentDamaged, Vault, new_uid, uid_age_seconds
from stockage import ObjectNotFound, ObjectStore, ObjectStream, StorageError

log = logging.getLogger(__name__)
EXPORT_PREFIX = "exports/"
KEPT = timedelta(days=7)
LEASE = timedelta(hours=1)  # a build not finished by then is taken over by another turn
MAX_ATTEMPTS = 3
ORPHAN_AGE = timedelta(days=1)

# The portal's other data on the foyer, as the ZIP's `donnees/` (`interop.portability`).
DataFiles = Callable[[Session, int], Mapping[str, bytes]]
# Told of a ready export in the transaction that records it (the adults' e-mail).
OnReady = Callable[[Session, VaultExport], object]


class ExportExpired(VaultError):
    """The prepared export's days are over: its content was deleted."""


class ExportDamaged(VaultError):
    """A ready export's blob is missing or fails its integrity check."""


@dataclass(frozen=True)
class OpenedExport:
    """A ready export allowed to be downloaded: its row and its ZIP, verified as it is read."""

    export: VaultExport
    chunks: Iterator[bytes] = field(repr=False)


def vault_bytes(session: Session, foyer_id: int) -> int:
    """What the foyer's documents add up to (a quarantined one's content is deleted)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Document.size), 0)).where(
            Document.foyer_id == foyer_id, Document.scan_state != ScanState.INFECTED
        )
    )
    return int(total or 0)


def latest(session: Session, foyer_id: int) -> VaultExport | None:
    """The foyer's newest export, the one its vault page tells of."""
    query = select(VaultExport).where(VaultExport.foyer_id == foyer_id)
    return session.scalar(query.order_by(VaultExport.id.desc()).limit(1))


def request_export(session: Session, clock: Clock, reader: FamilyReader) -> VaultExport:
    """Ask for the foyer's export to be prepared (committed); the pending one if there is one."""
    pending = session.scalar(
        select(VaultExport).where(
            VaultExport.foyer_id == reader.foyer_id, VaultExport.state == ExportState.PENDING
        )
    )
    if pending is not None:
        return pending
    foyer = session.get(Foyer, reader.foyer_id)
    if foyer is None:
        raise DocumentNotFound(f"foyer {reader.foyer_id} does not exist")
    if foyer.shredded_at is not None:
        raise FoyerShredded(f"foyer {reader.foyer_id} was deleted")
    now = clock.now()
    export = VaultExport(
        uid=new_uid(now),
        foyer_id=reader.foyer_id,
        requested_by=reader.account_id,
        requested_at=now,
        state=ExportState.PENDING,
        attempts=0,
    )
    session.add(export)
    session.commit()
    return export


def build_pending(
    session: Session,
    vault: Vault,
    data: DataFiles,
    on_ready: OnReady | None = None,
    batch: int = 1,
) -> int:
    """Build up to `batch` pending exports, oldest first; returns how many became ready.

    An export that cannot be built (a damaged document, a missing key) is marked failed;
    a storage error leaves it to be retried once its lease is over. Commits.
    """
    ready = 0
    for _ in range(batch):
        export = _claim(session, vault.clock)
        if export is None:
            break
        if export.state is ExportState.PENDING and _build(session, vault, export, data, on_ready):
            ready += 1
    return ready


def _claim(session: Session, clock: Clock) -> VaultExport | None:
    """Take the oldest pending export nobody builds (committed), or None."""
    now = clock.now()
    export = session.scalar(
        select(VaultExport)
        .where(
            VaultExport.state == ExportState.PENDING,
            or_(VaultExport.claimed_at.is_(None), VaultExport.claimed_at < now - LEASE),
        )
        .order_by(VaultExport.requested_at, VaultExport.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if export is None:
        session.rollback()
        return None
    export.claimed_at, export.attempts = now, export.attempts + 1
    if export.attempts > MAX_ATTEMPTS:  # every try so far ended without a word
        export.state = ExportState.FAILED
        log.error("export %s of foyer %s given up", export.id, export.foyer_id)
    session.commit()
    return export


def _build(
    session: Session, vault: Vault, export: VaultExport, data: DataFiles, on_ready: OnReady | None
) -> bool:
    export_id, foyer_id, claimed_at = export.id, export.foyer_id, export.claimed_at
    associated = _binding(foyer_id, export.uid)  # the row's uid: each try has a blob of its own
    reader = FamilyReader(account_id=export.requested_by, foyer_id=foyer_id)
    uid = new_uid(vault.clock.now())
    blob_key = f"{EXPORT_PREFIX}{foyer_id}/{uid}"
    size = 0

    def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal size
        for chunk in chunks:
            size += len(chunk)
            yield chunk

    try:
        key = keys.ensure_data_key(session, vault.keyring, vault.clock, foyer_id)
        files = data(session, foyer_id)
        # Committed: no transaction is open while the ZIP is built and sealed.
        chunks = export_chunks(session, vault, reader, files, journaled=False)
        sha256 = seal_into(
            vault.store,
            blob_key,
            IteratorStream(counted(chunks)),
            None,
            lambda plain: encrypt(key.material, keys.DATA_KEY_ID, associated, plain),
        )
    except (DocumentNotFound, FoyerShredded, KeyMissing, DocumentDamaged) as exc:
        session.rollback()
        log.error("export %s of foyer %s failed (%s)", export_id, foyer_id, type(exc).__name__)
        _mark_failed(session, export_id, claimed_at)
        return False
    return _record_ready(session, vault, export_id, claimed_at, blob_key, size, sha256, on_ready)


def _mark_failed(session: Session, export_id: int, claimed_at: datetime | None) -> None:
    session.execute(
        update(VaultExport)
        .where(VaultExport.id == export_id, VaultExport.claimed_at == claimed_at)
        .values(state=ExportState.FAILED)
        .execution_options(synchronize_session="fetch")
    )
    session.commit()


def _record_ready(
    session: Session,
    vault: Vault,
    export_id: int,
    claimed_at: datetime | None,
    blob_key: str,
    size: int,
    sha256: str,
    on_ready: OnReady | None,
) -> bool:
    """Commit the ready export, journal it and tell the adults; False (and the blob deleted)
    when another worker took it over meanwhile (its lease was over)."""
    now = vault.clock.now()
    recorded = session.execute(
        update(VaultExport)
        .where(
            VaultExport.id == export_id,
            VaultExport.state == ExportState.PENDING,
            VaultExport.claimed_at == claimed_at,
        )
        .values(
            state=ExportState.READY,
            blob_key=blob_key,
            size=size,
            sha256=sha256,
            ready_at=now,
            expires_at=now + KEPT,
        )
        .execution_options(synchronize_session="fetch")
    )
    if recorded.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        _delete_blob(vault.store, blob_key)
        return False
    export = session.get_one(VaultExport, export_id)
    journal.record(
        session,
        vault.clock,
        "foyer.export_prepared",
        foyer_id=export.foyer_id,
        details={"export": export.id, "size": size},
    )
    if on_ready is not None:
        on_ready(session, export)
    session.commit()
    return True


def open_export(
    session: Session, vault: Vault, reader: FamilyReader, export_id: int
) -> OpenedExport:
    """Check the export is the reader's foyer's and ready, journal the download and read the
    data key (committed), then give the ZIP; ExportExpired once its days are over."""
    export = session.get(VaultExport, export_id)
    if export is None or export.foyer_id != reader.foyer_id:
        raise DocumentNotFound(f"export {export_id} is not in foyer {reader.foyer_id}")
    over = export.expires_at is not None and export.expires_at <= vault.clock.now()
    if export.state is ExportState.EXPIRED or (export.state is ExportState.READY and over):
        raise ExportExpired(f"export {export_id} has expired")
    if export.state is not ExportState.READY or export.blob_key is None:
        raise DocumentNotFound(f"export {export_id} is not ready")
    key = keys.data_key(session, vault.keyring, export.foyer_id)
    journal.record(
        session,
        vault.clock,
        "foyer.exported",
        foyer_id=export.foyer_id,
        actor_id=reader.account_id,
        details={"export": export.id},
    )
    session.commit()
    return OpenedExport(export, _decrypted(vault.store, export, key))


def _decrypted(
    store: ObjectStore, export: VaultExport, key: keys.DataKey
) -> Generator[bytes, None, None]:
    assert export.blob_key is not None
    try:
        blob = store.open(export.blob_key)
    except ObjectNotFound:
        raise ExportDamaged(f"export {export.id}: its encrypted file is missing") from None
    return _verified(export, key, blob)


def _verified(
    export: VaultExport, key: keys.DataKey, blob: ObjectStream
) -> Generator[bytes, None, None]:
    def key_for(key_id: int) -> bytes:
        if key_id != keys.DATA_KEY_ID:
            raise IntegrityError("unknown data key id in the header")
        return key.material

    size = 0
    try:
        for chunk in decrypt(key_for, _binding(export.foyer_id, export.uid), blob):
            size += len(chunk)
            yield chunk
    except IntegrityError as exc:
        raise ExportDamaged(f"export {export.id}: {exc}") from None
    finally:
        blob.close()
    if size != export.size:
        raise ExportDamaged(f"export {export.id}: its content does not have its recorded size")


def expire_exports(session: Session, vault: Vault, batch: int = 100) -> int:
    """Mark the ready exports whose days are over expired (committed), then delete their
    blobs, and the blobs of builds that never finished; returns how many expired."""
    rows = session.scalars(
        select(VaultExport)
        .where(VaultExport.state == ExportState.READY, VaultExport.expires_at <= vault.clock.now())
        .order_by(VaultExport.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    blob_keys = [export.blob_key for export in rows if export.blob_key]
    for export in rows:
        export.state = ExportState.EXPIRED
    session.commit()
    for blob_key in blob_keys:
        _delete_blob(vault.store, blob_key)
    _sweep_unfinished(session, vault, batch)
    return len(rows)


def _sweep_unfinished(session: Session, vault: Vault, batch: int) -> None:
    """Delete export blobs no ready export points to, once a day old (a build that crashed,
    or an expired one whose deletion failed)."""
    now = vault.clock.now().timestamp()
    found = vault.store.keys(EXPORT_PREFIX)
    while chunk := list(islice(found, batch)):
        kept = set(
            session.scalars(
                select(VaultExport.blob_key).where(
                    VaultExport.blob_key.in_(chunk), VaultExport.state == ExportState.READY
                )
            )
        )
        for blob_key in chunk:
            age = uid_age_seconds(blob_key.rsplit("/", 1)[-1], now)
            if blob_key not in kept and age is not None and age > ORPHAN_AGE.total_seconds():
                _delete_blob(vault.store, blob_key)
    session.rollback()


def _delete_blob(store: ObjectStore, blob_key: str) -> None:
    try:
        store.delete(blob_key)
    except StorageError as exc:
        log.warning("export blob %s left for the sweep (%s)", blob_key, type(exc).__name__)


def _binding(foyer_id: int, uid: str) -> bytes:
    """What ties an export's blob to its foyer and its row, apart from any document's."""
    return binding(foyer_id, f"export-{uid}")
