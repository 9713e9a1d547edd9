"""The worker's antivirus job: each pending document read through the vault, scanned, judged.

A document is locked while it is scanned (SKIP LOCKED: a second worker takes the next one),
decrypted segment by segment straight into the scanner's socket (its plaintext never
touches the disk), and its verdict committed on its own. A clean one opens to the agents it
is granted to; an infected one is quarantined: its record stays, for the family to see why
and for the journal, and its encrypted content is deleted, so nobody can open it again.

Documents deposited while no scanner was configured (`not_scanned`) are scanned the same way
once one is, a bounded batch a turn after the new deposits, oldest first; they stay open to
the agents they are granted to meanwhile, as they were before the scanner came.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from coffre.antivirus import Scanner, ScannerUnavailable, Verdict
from coffre.journal import chain as journal
from coffre.models import Document, ScanState
from coffre.vault import DocumentDamaged, Vault
from stockage import StorageError

log = logging.getLogger(__name__)
BATCH = 20
RESCAN_BATCH = 20

# Told of a quarantined document in the transaction that records it (the family's e-mail).
OnInfected = Callable[[Session, Document], object]


def scan_pending(
    session: Session,
    vault: Vault,
    scanner: Scanner,
    on_infected: OnInfected | None = None,
    batch: int = BATCH,
) -> int:
    """Scan up to `batch` pending documents, oldest attempt first; returns how many were judged.

    A scanner that does not answer leaves the rest for the next turn; a damaged document
    stays pending (agents may not open it) and is logged. Commits.
    """
    return _scan_queue(session, vault, scanner, ScanState.PENDING, on_infected, batch).judged


@dataclass(frozen=True)
class Turn:
    """What a turn over a queue did: how many documents it judged, and whether it ran dry."""

    judged: int
    emptied: bool


def rescan_not_scanned(
    session: Session,
    vault: Vault,
    scanner: Scanner,
    on_infected: OnInfected | None = None,
    batch: int = RESCAN_BATCH,
) -> Turn:
    """Scan up to `batch` documents deposited while no scanner was configured, oldest first.

    Each takes its verdict as a new deposit does (clean, or quarantined and the family told);
    until then it stays `not_scanned` and open to agents. Commits.
    """
    return _scan_queue(session, vault, scanner, ScanState.NOT_SCANNED, on_infected, batch)


def not_scanned() -> Select[Document]:
    """The documents waiting for their first scan since a scanner came, oldest first."""
    return (
        select(Document).where(Document.scan_state == ScanState.NOT_SCANNED).order_by(Document.id)
    )


def _scan_queue(
    session: Session,
    vault: Vault,
    scanner: Scanner,
    state: ScanState,
    on_infected: OnInfected | None,
    batch: int,
) -> Turn:
    judged = 0
    for _ in range(batch):
        document = session.scalar(_next_in(state))  # locked until its commit
        if document is None:
            return Turn(judged, emptied=True)
        try:
            verdict = scanner.scan(vault.plaintext(session, document))
        except ScannerUnavailable as exc:
            log.warning("antivirus: document %s not scanned (%s)", document.id, exc)
            _attempted(session, vault, document)
            break
        except DocumentDamaged as exc:
            log.error("antivirus: document %s cannot be read (%s)", document.id, exc.reason)
            _attempted(session, vault, document)
            continue
        if _record(session, vault, document, state, verdict, on_infected):
            judged += 1
    return Turn(judged, emptied=False)


def _next_pending() -> Select[Any]:
    """The pending document tried least recently, skipping those another worker holds."""
    return _next_in(ScanState.PENDING)


def _next_in(state: ScanState) -> Select[Any]:
    """The document in `state` tried least recently (never tried: oldest deposit first),
    skipping those another worker holds."""
    return (
        select(Document)
        .where(Document.scan_state == state)
        .order_by(Document.scanned_at.asc().nulls_first(), Document.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _attempted(session: Session, vault: Vault, document: Document) -> None:
    """Note the failed attempt: the next turn tries the others first."""
    document.scanned_at = vault.clock.now()
    session.commit()


def _record(
    session: Session,
    vault: Vault,
    document: Document,
    taken_from: ScanState,
    verdict: Verdict,
    on_infected: OnInfected | None,
) -> bool:
    """Commit the verdict and journal it; False when another worker recorded one first
    (SQLite has no SKIP LOCKED: there, two workers may scan the same document)."""
    state = ScanState.INFECTED if verdict.infected else ScanState.CLEAN
    recorded = session.execute(
        update(Document)
        .where(Document.id == document.id, Document.scan_state == taken_from)
        .values(scan_state=state, scanned_at=vault.clock.now())
        .execution_options(synchronize_session="fetch")
    )
    if recorded.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    journal.record(
        session,
        vault.clock,
        "document.scanned",
        foyer_id=document.foyer_id,
        document_id=document.id,
        details={"result": state.value}
        | ({"signature": verdict.signature} if verdict.signature else {})
        # Deposited while no scanner was configured: it was open to agents until now.
        | ({"deposited_unscanned": True} if taken_from is ScanState.NOT_SCANNED else {}),
    )
    if verdict.infected and on_infected is not None:
        on_infected(session, document)
    session.commit()
    if verdict.infected:
        _delete_content(vault, document)
    return True


def _delete_content(vault: Vault, document: Document) -> None:
    """Delete a quarantined document's encrypted content; the access check refuses it anyway."""
    log.warning("antivirus: document %s quarantined", document.id)
    try:
        vault.store.delete(document.blob_key)
    except StorageError as exc:
        log.error(
            "antivirus: content of quarantined document %s not deleted (%s)",
            document.id,
            type(exc).__name__,
        )
