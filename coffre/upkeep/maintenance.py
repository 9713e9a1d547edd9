"""Vault upkeep: verify every blob, sweep orphan blobs, expire documents past their date."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import Clock, local_today
from coffre.errors import KeyMissing
from coffre.journal import chain as journal
from coffre.models import Document, DocumentState, ScanState
from coffre.vault import BLOB_PREFIX, DocumentDamaged, Vault, uid_age_seconds

ORPHAN_AGE = timedelta(hours=1)
REMINDER_DAYS = 30


@dataclass(frozen=True)
class Damage:
    document_id: int
    foyer_id: int
    reason: str


@dataclass
class VerifyReport:
    checked: int = 0
    damaged: list[Damage] = field(default_factory=list)


def verify_blobs(session: Session, vault: Vault, foyer_id: int | None = None) -> VerifyReport:
    """Re-read every document (or one foyer's): every tag, size and digest; never stops early."""
    # A quarantined document's content was deleted on purpose: nothing to verify.
    query = select(Document).where(Document.scan_state != ScanState.INFECTED).order_by(Document.id)
    if foyer_id is not None:
        query = query.where(Document.foyer_id == foyer_id)
    report = VerifyReport()
    for document in session.scalars(query.execution_options(yield_per=500)):
        report.checked += 1
        try:
            for _chunk in vault.plaintext(session, document, check_digest=True):
                pass
        except DocumentDamaged as exc:
            report.damaged.append(Damage(document.id, document.foyer_id, exc.reason))
        except KeyMissing as exc:
            report.damaged.append(Damage(document.id, document.foyer_id, str(exc)))
    return report


def sweep_orphans(
    session: Session, vault: Vault, older_than: timedelta = ORPHAN_AGE, batch: int = 500
) -> list[str]:
    """Delete blobs that no document row points to, once their uid is older than `older_than`.

    Such a blob is what a crash between writing the blob and committing its row leaves.
    """
    now = vault.clock.now().timestamp()
    removed: list[str] = []
    keys = vault.store.keys(BLOB_PREFIX)
    while chunk := list(islice(keys, batch)):
        known = set(session.scalars(select(Document.blob_key).where(Document.blob_key.in_(chunk))))
        for key in chunk:
            age = uid_age_seconds(key.rsplit("/", 1)[-1], now)
            if key not in known and age is not None and age > older_than.total_seconds():
                vault.store.delete(key)
                removed.append(key)
    return removed


@dataclass
class ExpiryReport:
    expired: list[int] = field(default_factory=list)
    # Current documents that expire within REMINDER_DAYS, not reminded yet: (foyer, document).
    to_remind: list[tuple[int, int]] = field(default_factory=list)


def expire_documents(session: Session, clock: Clock) -> ExpiryReport:
    """Mark documents past their validity as expired, and pick those to remind of.

    The caller commits, in the same transaction as the reminders it queues, so a crash
    between the two can neither lose a reminder nor send one twice.
    """
    today = local_today(clock)
    report = ExpiryReport()
    for document in _current(session, Document.valid_until < today):
        if document.state is not DocumentState.EXPIRE:
            document.state = DocumentState.EXPIRE
            report.expired.append(document.id)
            journal.record(
                session,
                clock,
                "document.expired",
                foyer_id=document.foyer_id,
                document_id=document.id,
            )
    horizon = today + timedelta(days=REMINDER_DAYS)
    soon = Document.valid_until.between(today, horizon) & Document.expiry_reminded_on.is_(None)
    for document in _current(session, soon):
        document.expiry_reminded_on = today
        report.to_remind.append((document.foyer_id, document.id))
    session.flush()
    return report


def _current(session: Session, condition: object) -> Iterator[Document]:
    query = select(Document).where(condition, Document.superseded_at.is_(None))  # type: ignore[arg-type]
    return iter(session.scalars(query.order_by(Document.id)).all())
