"""A foyer's adults as recipients of its notices: documents about to expire, quarantined ones,
a prepared export ready."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Role
from coffre.catalogue import DOCUMENT_TYPES
from coffre.clock import PARIS, Clock
from coffre.models import Document, VaultExport
from coffre.upkeep.maintenance import expire_documents
from notifications.outbox import enqueue
from notifications.templates import (
    EXPIRY_TEMPLATE,
    EXPORT_READY_TEMPLATE,
    QUARANTINE_TEMPLATE,
    VAULT_PATH,
    date_fr,
)


def expiry_reminders(session: Session, clock: Clock, base_url: str) -> tuple[int, int]:
    """Expire documents past their date and queue reminders of those expiring soon; commits.

    Every active family account of the foyer gets one message per document; returns how
    many documents expired and how many messages were queued, in one transaction.
    """
    report = expire_documents(session, clock)
    queued = 0
    for foyer_id, document_id in report.to_remind:
        context = _expiry_context(session.get_one(Document, document_id), base_url)
        for account in family_accounts(session, foyer_id):
            queued += enqueue(
                session,
                clock,
                key=f"expiry:{document_id}:{account.id}",
                recipient=account.email,
                template=EXPIRY_TEMPLATE,
                context=context,
            )
    session.commit()
    return len(report.expired), queued


def _expiry_context(document: Document, base_url: str) -> dict[str, str]:
    kind = DOCUMENT_TYPES.get(document.type_code)
    assert document.valid_until is not None  # only documents with a date are reminded of
    return {
        "type_document": kind.label if kind else document.type_code,
        "date_expiration": date_fr(document.valid_until),
        "lien": base_url.rstrip("/") + VAULT_PATH,
    }


def quarantine_notices(session: Session, clock: Clock, document: Document, base_url: str) -> int:
    """Queue, in the caller's transaction, the e-mail telling each adult of the foyer that one
    of its documents was quarantined by the antivirus; returns how many were queued."""
    kind = DOCUMENT_TYPES.get(document.type_code)
    context = {
        "type_document": kind.label if kind else document.type_code,
        "date_depot": date_fr(document.deposited_at.astimezone(PARIS).date()),
        "lien": base_url.rstrip("/") + VAULT_PATH,
    }
    return sum(
        enqueue(
            session,
            clock,
            key=f"quarantine:{document.id}:{account.id}",
            recipient=account.email,
            template=QUARANTINE_TEMPLATE,
            context=context,
        )
        for account in family_accounts(session, document.foyer_id)
    )


def export_ready_notices(session: Session, clock: Clock, export: VaultExport, base_url: str) -> int:
    """Queue, in the caller's transaction, the e-mail telling each adult of the foyer that its
    vault's export is ready, with a link to the vault page; returns how many were queued."""
    assert export.expires_at is not None
    context = {
        "date_limite": date_fr(export.expires_at.astimezone(PARIS).date()),
        "lien": base_url.rstrip("/") + VAULT_PATH,
    }
    return sum(
        enqueue(
            session,
            clock,
            key=f"export-ready:{export.id}:{account.id}",
            recipient=account.email,
            template=EXPORT_READY_TEMPLATE,
            context=context,
        )
        for account in family_accounts(session, export.foyer_id)
    )


def family_accounts(session: Session, foyer_id: int) -> Sequence[Account]:
    """The foyer's active family accounts, the recipients of its notices."""
    query = select(Account).where(
        Account.foyer_id == foyer_id,
        Account.role == Role.FAMILLE,
        Account.is_active.is_(True),
    )
    return session.scalars(query.order_by(Account.id)).all()
