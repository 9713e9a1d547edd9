"""The vault's service: deposit, read, replace and delete documents, shred a foyer.

A deposit streams once through the content inspector, a SHA-256 and the segment
encryption into the object store, in bounded memory, the store writing while the next
segments are sealed (`coffre.sealing`). The blob is written before its row: a failure after
the blob deletes it again, and a crash in between leaves a blob without a row that
`sweep_orphans` removes once it is an hour old (the blob's uid carries its time).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from coffre import consent, keys
from coffre.antivirus import Scanner
from coffre.catalogue import DocumentType, configured_type
from coffre.clock import Clock, local_today
from coffre.consent import Reader
from coffre.crypto import IntegrityError, binding, decrypt, encrypt
from coffre.errors import DocumentNotFound, FoyerShredded, MemberNotInFoyer, VaultError
from coffre.inspection.uploads import Inspection, UploadInspector, UploadRefused
from coffre.journal import chain as journal
from coffre.keyring import Keyring
from coffre.models import Channel, Document, DocumentState, Foyer, FoyerMember, ScanState
from coffre.operator import Operator
from coffre.sealing import seal_into
from stockage import ObjectNotFound, ObjectStore, ObjectStream, ReadableStream, StorageError

log = logging.getLogger(__name__)
MIB = 1024 * 1024
BLOB_PREFIX = "documents/"


class DocumentDamaged(VaultError):
    """A stored document fails its integrity check or its blob is missing."""

    def __init__(self, document_id: int, reason: str) -> None:
        super().__init__(f"document {document_id} is damaged: {reason}")
        self.document_id = document_id
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """Size limits of one document and of one foyer's whole vault."""

    document_bytes: int = 20 * MIB
    foyer_bytes: int = 500 * MIB


@dataclass(frozen=True)
class Upload:
    """A file a family (or an agent at the counter) puts into the vault."""

    foyer_id: int
    type_code: str
    filename: str
    stream: ReadableStream = field(repr=False)
    issued_on: date
    member_id: int | None = None
    actor_id: int | None = None
    channel: Channel = Channel.EN_LIGNE
    replaces_id: int | None = None
    operator: Operator | None = None  # deposited by the operator's command: named in the journal


@dataclass(frozen=True)
class OpenedDocument:
    """A document allowed to be read: its row and its plaintext, verified segment by segment."""

    document: Document
    chunks: Iterator[bytes] = field(repr=False)


def new_uid(now: datetime) -> str:
    """32 hex characters: 48 bits of milliseconds since the epoch, then 80 random bits."""
    return f"{int(now.timestamp() * 1000):012x}{os.urandom(10).hex()}"


def uid_age_seconds(uid: str, now_seconds: float) -> float | None:
    """How old a uid is, from its time prefix; None if it is not one of ours."""
    try:
        return now_seconds - int(uid[:12], 16) / 1000
    except ValueError:
        return None


@dataclass
class Vault:
    """The vault's operations, with their collaborators."""

    store: ObjectStore
    keyring: Keyring = field(repr=False)
    clock: Clock
    limits: Limits = field(default_factory=Limits)
    # With a scanner, a deposit waits for the worker's scan (`coffre.upkeep.scanning`) before an
    # agent may open it; without one it is recorded as not scanned, and opens at once.
    scanner: Scanner | None = None

    def deposit(self, session: Session, upload: Upload, *, commit: bool = True) -> Document:
        """Inspect, encrypt and store an upload, then commit its row; nothing half-written.

        `commit=False` only flushes the row, for a caller whose unit of work commits it with
        its own changes (a workflow step issuing a certificate); a failure still rolls back.
        """
        kind = configured_type(session, upload.type_code)
        if upload.issued_on > local_today(self.clock):
            raise UploadRefused(
                "future_date",
                "La date d'émission du document ne peut pas être dans le futur : "
                "vérifiez la date indiquée.",
            )
        foyer = self._live_foyer(session, upload.foyer_id)
        self._check_member(session, foyer, upload.member_id)
        previous = self._replaced(session, foyer.id, upload.replaces_id)
        limit, by_quota = self._room(session, foyer.id)
        key = keys.ensure_data_key(session, self.keyring, self.clock, foyer.id)
        uid = new_uid(self.clock.now())
        blob_key = f"{BLOB_PREFIX}{foyer.id}/{uid}"
        inspector = UploadInspector(kind.formats, upload.filename, limit)
        associated = binding(foyer.id, uid)
        try:
            sha256 = seal_into(
                self.store,
                blob_key,
                upload.stream,
                inspector,
                lambda plain: encrypt(key.material, keys.DATA_KEY_ID, associated, plain),
            )
            inspection = inspector.finish()
            document = self._add_row(session, upload, kind, inspection, uid, blob_key, sha256)
            if previous is not None:
                previous.superseded_at = document.deposited_at
            session.flush()
            self._journal_deposit(session, document, previous, upload)
            if commit:
                session.commit()
            else:
                session.flush()
        except UploadRefused as refused:
            self._discard(session, blob_key)
            if by_quota:
                raise _quota_refusal(refused) from None
            raise
        except BaseException:
            self._discard(session, blob_key)
            raise
        return document

    def _discard(self, session: Session, blob_key: str) -> None:
        """Undo a failed deposit; a blob that cannot be deleted now is left to the sweep."""
        session.rollback()
        try:
            self.store.delete(blob_key)
        except StorageError as exc:
            log.warning("deposit: blob %s left for the sweep (%s)", blob_key, type(exc).__name__)

    def _live_foyer(self, session: Session, foyer_id: int) -> Foyer:
        foyer = session.get(Foyer, foyer_id)
        if foyer is None:
            raise DocumentNotFound(f"foyer {foyer_id} does not exist")
        if foyer.shredded_at is not None:
            raise FoyerShredded(f"foyer {foyer_id} was deleted")
        return foyer

    def _check_member(self, session: Session, foyer: Foyer, member_id: int | None) -> None:
        if member_id is None:
            return
        member = session.get(FoyerMember, member_id)
        if member is None or member.foyer_id != foyer.id:
            raise MemberNotInFoyer(f"member {member_id} is not in foyer {foyer.id}")

    def _replaced(
        self, session: Session, foyer_id: int, document_id: int | None
    ) -> Document | None:
        if document_id is None:
            return None
        document = session.get(Document, document_id)
        if document is None or document.foyer_id != foyer_id or document.superseded_at:
            raise DocumentNotFound(
                f"document {document_id} is not a current one of foyer {foyer_id}"
            )
        return document

    def _room(self, session: Session, foyer_id: int) -> tuple[int, bool]:
        """The largest upload allowed now, and whether the foyer's quota is what limits it."""
        used = session.scalar(
            select(func.coalesce(func.sum(Document.size), 0)).where(
                Document.foyer_id == foyer_id, Document.scan_state != ScanState.INFECTED
            )
        )  # a quarantined document's content is deleted: it takes no room
        left = self.limits.foyer_bytes - int(used or 0)
        if left <= 0:
            raise _quota_refusal(UploadRefused("too_large", ""))
        return min(left, self.limits.document_bytes), left < self.limits.document_bytes

    def _add_row(
        self,
        session: Session,
        upload: Upload,
        kind: DocumentType,
        inspection: Inspection,
        uid: str,
        blob_key: str,
        sha256: str,
    ) -> Document:
        document = Document(
            uid=uid,
            foyer_id=upload.foyer_id,
            member_id=upload.member_id,
            type_code=kind.code,
            state=DocumentState.DEPOSE,
            original_name=inspection.filename,
            mime_type=inspection.mime_type,
            size=inspection.size,
            sha256=sha256,
            blob_key=blob_key,
            issued_on=upload.issued_on,
            valid_until=kind.valid_until(upload.issued_on),
            channel=upload.channel,
            deposited_by=upload.actor_id,
            deposited_at=self.clock.now(),
            replaces_id=upload.replaces_id,
            scan_state=ScanState.PENDING if self.scanner else ScanState.NOT_SCANNED,
        )
        session.add(document)
        return document

    def _journal_deposit(
        self, session: Session, document: Document, previous: Document | None, upload: Upload
    ) -> None:
        journal.record(
            session,
            self.clock,
            "document.replaced" if previous else "document.deposited",
            foyer_id=document.foyer_id,
            actor_id=upload.actor_id,
            document_id=document.id,
            details={"type": document.type_code, "channel": document.channel.value}
            | ({"replaces": previous.id} if previous else {})
            | (upload.operator.details() if upload.operator else {}),
        )

    def open(
        self,
        session: Session,
        reader: Reader,
        document_id: int,
        demande_id: int | None = None,
        purpose: str = "download",
        *,
        thread_id: int | None = None,
        team_on: date | None = None,
    ) -> OpenedDocument:
        """Check access, log the read and read the data key (committed), then give the plaintext.

        The chunks read the object store only: the session holds no transaction while they
        are sent, however slow the client or wherever it goes (on SQLite, a transaction is
        the database's write lock).
        """
        permit = consent.check_access(
            session, reader, document_id, demande_id, thread_id=thread_id, team_on=team_on
        )
        consent.record_read(session, self.clock, permit, purpose)
        key = keys.data_key(session, self.keyring, permit.document.foyer_id)
        session.commit()
        return OpenedDocument(permit.document, self.decrypted(permit.document, key))

    def plaintext(
        self, session: Session, document: Document, check_digest: bool = False
    ) -> Iterator[bytes]:
        """The document's bytes, each segment verified before it is given; for vault code only.

        Every segment's GCM tag, bound to this foyer and document, authenticates the bytes, and
        the size is checked; `check_digest` also recomputes the recorded SHA-256 (what
        `flask coffre verify` does), which costs more than the decryption itself.
        Raises DocumentDamaged for a missing blob, a failed tag, or a size or digest mismatch.
        """
        key = keys.data_key(session, self.keyring, document.foyer_id)
        return self.decrypted(document, key, check_digest)

    def decrypted(
        self, document: Document, key: keys.DataKey, check_digest: bool = False
    ) -> Generator[bytes, None, None]:
        """`plaintext` with the foyer's data key already read: the store only, no session.

        What a stream sent after its transaction ended uses; for vault code only.
        """
        try:
            blob = self.store.open(document.blob_key)
        except ObjectNotFound:
            raise DocumentDamaged(document.id, "its encrypted file is missing") from None
        return self._verified(document, key, blob, check_digest)

    def _verified(
        self, document: Document, key: keys.DataKey, blob: ObjectStream, check_digest: bool
    ) -> Generator[bytes, None, None]:
        digest, size = hashlib.sha256() if check_digest else None, 0

        def key_for(key_id: int) -> bytes:
            if key_id != keys.DATA_KEY_ID:
                raise IntegrityError("unknown data key id in the header")
            return key.material

        try:
            for chunk in decrypt(key_for, binding(document.foyer_id, document.uid), blob):
                if digest is not None:
                    digest.update(chunk)
                size += len(chunk)
                yield chunk
        except IntegrityError as exc:
            raise DocumentDamaged(document.id, str(exc)) from None
        finally:
            blob.close()
        if size != document.size:
            raise DocumentDamaged(document.id, "its content does not have its recorded size")
        if digest is not None and digest.hexdigest() != document.sha256:
            raise DocumentDamaged(document.id, "its content does not match its recorded digest")

    def history(self, session: Session, foyer_id: int, document_id: int) -> list[Document]:
        """A document and the versions it replaced, newest first."""
        versions: list[Document] = []
        current = session.get(Document, document_id)
        if current is None or current.foyer_id != foyer_id:
            raise DocumentNotFound(f"document {document_id} is not in foyer {foyer_id}")
        while current is not None:
            versions.append(current)
            current = session.get(Document, current.replaces_id) if current.replaces_id else None
        return versions

    def delete_document(
        self,
        session: Session,
        foyer_id: int,
        document_id: int,
        actor_id: int | None,
        operator: tuple[Operator, str] | None = None,
    ) -> None:
        """Delete a document with its history: rows first (committed), then their blobs.

        `operator`: the operator and their reason, when it is the operator's command that
        deletes it (both journaled).
        """
        versions = self.history(session, foyer_id, document_id)
        newer = session.scalar(select(Document.id).where(Document.replaces_id == document_id))
        if newer is not None:
            raise DocumentNotFound(f"document {document_id} is an old version; delete the current")
        for version in versions:  # newest first: each row refers to the one after it
            session.delete(version)
            session.flush()
        journal.record(
            session,
            self.clock,
            "document.deleted",
            foyer_id=foyer_id,
            actor_id=actor_id,
            document_id=document_id,
            details={"versions": len(versions)}
            | (operator[0].details(operator[1]) if operator else {}),
        )
        session.commit()
        for version in versions:
            self.store.delete(version.blob_key)

    def shred_foyer(self, session: Session, foyer_id: int, actor_id: int | None) -> int:
        """Crypto-shred a foyer: destroy its key (committed) first, then its rows and blobs.

        Returns the number of blobs removed. The journal keeps its ids-only entries.
        """
        foyer = self._live_foyer(session, foyer_id)
        keys.destroy_data_key(session, foyer_id)
        foyer.shredded_at = self.clock.now()
        foyer.label, foyer.address_line, foyer.postal_code, foyer.city = "", "", "", ""
        journal.record(session, self.clock, "foyer.shredded", foyer_id=foyer_id, actor_id=actor_id)
        session.commit()
        blob_keys = list(
            session.scalars(select(Document.blob_key).where(Document.foyer_id == foyer_id))
        )
        _delete_foyer_rows(session, foyer)
        session.commit()
        for blob_key in blob_keys:
            self.store.delete(blob_key)
        return len(blob_keys)


def _delete_foyer_rows(session: Session, foyer: Foyer) -> None:
    documents = session.scalars(
        select(Document).where(Document.foyer_id == foyer.id).order_by(Document.id.desc())
    ).all()
    for document in documents:  # newest first: a replacement refers to its predecessor
        session.delete(document)
        session.flush()
    foyer.members.clear()
    session.execute(delete(FoyerMember).where(FoyerMember.foyer_id == foyer.id))


def _quota_refusal(refused: UploadRefused) -> UploadRefused:
    if refused.code != "too_large":
        return refused
    return UploadRefused(
        "quota",
        "Votre coffre-fort est plein : supprimez des documents dont vous n'avez plus besoin "
        "avant d'en ajouter un nouveau.",
    )
