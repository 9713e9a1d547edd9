"""Forgotten drafts: a reminder after 23 days without change, deletion after 30.

A draft's age counts from its last change (`updated_at`, set by every save), so a draft
saved again starts its 30 days over, and earns a new reminder if it is forgotten again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts import family
from coffre import consent
from coffre.clock import PARIS
from coffre.consent import DemandeRef
from coffre.models import DemandeAccess, Document, Grant
from notifications import outbox, templates
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus, Task
from procedures.progress import version_of

REMIND_AFTER = timedelta(days=23)
DELETE_AFTER = timedelta(days=30)


def expire_drafts(session: Session, ctx: EngineContext) -> tuple[int, int]:
    """Delete drafts unchanged for 30 days and remind the families of those at 23; commits.

    Returns (reminders queued, drafts deleted). Each family account gets one reminder per
    draft and per change: the outbox key carries the draft's last change.
    """
    now = ctx.clock.now()
    deleted = 0
    for draft in _drafts_unchanged_since(session, now - DELETE_AFTER):
        _delete_draft(session, ctx, draft)
        deleted += 1
    reminded = 0
    for draft in _drafts_unchanged_since(session, now - REMIND_AFTER):
        reminded += _remind(session, ctx, draft)
    session.commit()
    return reminded, deleted


def _drafts_unchanged_since(session: Session, moment: datetime) -> Sequence[Demande]:
    query = select(Demande).where(
        Demande.status == DemandeStatus.BROUILLON, Demande.updated_at <= moment
    )
    return session.scalars(query.order_by(Demande.id)).all()


def _remind(session: Session, ctx: EngineContext, draft: Demande) -> int:
    deleted_on = (draft.updated_at + DELETE_AFTER).astimezone(PARIS).date()
    context = {
        "demarche": version_of(session, draft).title,
        "date_suppression": templates.date_fr(deleted_on),
        "lien": f"{ctx.base_url.rstrip('/')}/famille/demandes/{draft.id}/formulaire",
    }
    changed = draft.updated_at.isoformat()
    queued = 0
    for account in family.family_accounts(session, draft.foyer_id):
        queued += outbox.enqueue(
            session,
            ctx.clock,
            key=f"draft-reminder:{draft.id}:{changed}:{account.id}",
            recipient=account.email,
            template=templates.DRAFT_REMINDER_TEMPLATE,
            context=context,
        )
    return queued


def _delete_draft(session: Session, ctx: EngineContext, draft: Demande) -> None:
    """Remove the draft and everything that names it, consents first (journaled)."""
    ref = DemandeRef(draft.id, draft.foyer_id, is_open=True)
    granted = session.scalars(
        select(Document)
        .join(Grant, Grant.document_id == Document.id)
        .where(Grant.demande_id == draft.id, Grant.revoked_at.is_(None))
    )
    for document in granted.all():
        consent.revoke(session, ctx.clock, None, document, ref)
    # A deleted row's id may be handed out again (SQLite): nothing may keep pointing at it.
    session.execute(delete(Grant).where(Grant.demande_id == draft.id))
    session.execute(delete(DemandeAccess).where(DemandeAccess.demande_id == draft.id))
    session.execute(delete(Task).where(Task.demande_id == draft.id))
    session.execute(delete(DemandeEvent).where(DemandeEvent.demande_id == draft.id))
    session.delete(draft)
    session.flush()
