"""The operator's acts on the vault (the functions of NF Z42-020), each one journaled.

Deposit, read, destroy, read a document's technical metadata, control its integrity, read a
chain of the journal, list and count documents: what `flask coffre ...` runs. Each act writes
one entry naming the operator in the foyer's chain (the "system" chain for a count over every
foyer), in the same transaction as the act: an act refused for bad input writes nothing.
A read and a destruction go through the vault's own services (the one access check, the
deletion of rows then blobs); the others read rows and blobs and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coffre.consent import OperatorReader
from coffre.errors import DocumentNotFound, KeyMissing
from coffre.journal import chain as journal
from coffre.models import Channel, Document, Foyer, JournalEntry
from coffre.operator import Operator, checked_reason
from coffre.vault import DocumentDamaged, OpenedDocument, Upload, Vault
from stockage import ReadableStream

HASH_ALGORITHM = "sha256"
READ_PURPOSE = "exploitant"  # what the family's list of reads shows


@dataclass(frozen=True)
class Metadata:
    """A document's technical metadata: never its content, name or keys."""

    id: int
    foyer_id: int
    type_code: str
    state: str
    depositor: int | None  # the account that deposited it; None for the town or the operator
    channel: str
    deposited_at: datetime
    size: int
    hash_algorithm: str
    hash_value: str
    replaces_id: int | None
    superseded_at: datetime | None


@dataclass(frozen=True)
class Integrity:
    """The outcome of one document's integrity control."""

    document_id: int
    intact: bool
    reason: str | None = None


@dataclass(frozen=True)
class FoyerCount:
    """How many documents (every version) a foyer holds, and their bytes."""

    foyer_id: int
    documents: int
    size: int


def deposit(
    session: Session,
    vault: Vault,
    operator: Operator,
    foyer_id: int,
    type_code: str,
    filename: str,
    stream: ReadableStream,
    issued_on: date,
) -> Document:
    """Deposit a file into a foyer's vault as the town ("mairie" channel), like any upload."""
    upload = Upload(
        foyer_id=foyer_id,
        type_code=type_code,
        filename=filename,
        stream=stream,
        issued_on=issued_on,
        channel=Channel.MAIRIE,
        operator=operator,
    )
    return vault.deposit(session, upload)


def read(
    session: Session, vault: Vault, operator: Operator, document_id: int, reason: str
) -> OpenedDocument:
    """Open a document through the one access check, as the operator for a reason (journaled)."""
    reader = OperatorReader(operator, checked_reason(reason))
    return vault.open(session, reader, document_id, purpose=READ_PURPOSE)


def destroy(
    session: Session, vault: Vault, operator: Operator, document_id: int, reason: str
) -> None:
    """Delete a current document and its earlier versions, rows then blobs (journaled)."""
    why = checked_reason(reason)
    document = _document(session, document_id)
    vault.delete_document(session, document.foyer_id, document.id, None, (operator, why))


def metadata(session: Session, vault: Vault, operator: Operator, document_id: int) -> Metadata:
    """A document's technical metadata (journaled as read)."""
    document = _document(session, document_id)
    _record(session, vault, operator, "operator.metadata", document.foyer_id, document.id)
    session.commit()
    return _metadata_of(document)


def control(session: Session, vault: Vault, operator: Operator, document_id: int) -> Integrity:
    """Check that the document's blob is in the store and decrypts to its recorded size and
    SHA-256, every segment's tag verified; journaled with the outcome."""
    document = _document(session, document_id)
    try:
        for _chunk in vault.plaintext(session, document, check_digest=True):
            pass
        outcome = Integrity(document.id, True)
    except DocumentDamaged as exc:
        outcome = Integrity(document.id, False, exc.reason)
    except KeyMissing:
        outcome = Integrity(document.id, False, "its foyer's data key cannot be read")
    _record(
        session,
        vault,
        operator,
        "operator.control",
        document.foyer_id,
        document.id,
        {"intact": outcome.intact},
    )
    session.commit()
    return outcome


def read_journal(
    session: Session, vault: Vault, operator: Operator, foyer_id: int | None
) -> Iterator[JournalEntry]:
    """A foyer's chain of the journal (the "system" chain for None), this read included."""
    if foyer_id is not None:
        _foyer(session, foyer_id)
    _record(session, vault, operator, "operator.journal", foyer_id)
    session.commit()
    return journal.entries(session, journal.chain_of(foyer_id))


def documents(session: Session, vault: Vault, operator: Operator, foyer_id: int) -> list[Metadata]:
    """Every document of a foyer, earlier versions included, by id (journaled)."""
    _foyer(session, foyer_id)
    query = select(Document).where(Document.foyer_id == foyer_id).order_by(Document.id)
    found = [_metadata_of(document) for document in session.scalars(query)]
    _record(session, vault, operator, "operator.list", foyer_id, details={"documents": len(found)})
    session.commit()
    return found


def count(
    session: Session, vault: Vault, operator: Operator, foyer_id: int | None = None
) -> list[FoyerCount]:
    """Documents and bytes per foyer holding any (or of one foyer, even empty); journaled."""
    query = (
        select(Document.foyer_id, func.count(), func.coalesce(func.sum(Document.size), 0))
        .group_by(Document.foyer_id)
        .order_by(Document.foyer_id)
    )
    if foyer_id is not None:
        _foyer(session, foyer_id)
        query = query.where(Document.foyer_id == foyer_id)
    counts = [FoyerCount(int(f), int(n), int(size)) for f, n, size in session.execute(query)]
    if foyer_id is not None and not counts:
        counts = [FoyerCount(foyer_id, 0, 0)]
    total = sum(c.documents for c in counts)
    details: dict[str, journal.Detail] = {"documents": total}
    if foyer_id is None:
        details["foyers"] = len(counts)
    _record(session, vault, operator, "operator.count", foyer_id, details=details)
    session.commit()
    return counts


def _document(session: Session, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise DocumentNotFound(f"document {document_id} does not exist")
    return document


def _foyer(session: Session, foyer_id: int) -> Foyer:
    foyer = session.get(Foyer, foyer_id)
    if foyer is None:
        raise DocumentNotFound(f"foyer {foyer_id} does not exist")
    return foyer


def _record(
    session: Session,
    vault: Vault,
    operator: Operator,
    event: str,
    foyer_id: int | None,
    document_id: int | None = None,
    details: dict[str, journal.Detail] | None = None,
) -> None:
    journal.record(
        session,
        vault.clock,
        event,
        foyer_id=foyer_id,
        document_id=document_id,
        details=operator.details() | (details or {}),
    )


def _metadata_of(document: Document) -> Metadata:
    return Metadata(
        id=document.id,
        foyer_id=document.foyer_id,
        type_code=document.type_code,
        state=document.state.value,
        depositor=document.deposited_by,
        channel=document.channel.value,
        deposited_at=document.deposited_at,
        size=document.size,
        hash_algorithm=HASH_ALGORITHM,
        hash_value=document.sha256,
        replaces_id=document.replaces_id,
        superseded_at=document.superseded_at,
    )
