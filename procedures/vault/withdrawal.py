"""A document the family takes back from its open demandes, and the agents told of it.

The family may withdraw its consent to a document while a demande is open, or delete the
document from its vault: either way the agents handling the demande can no longer read it.
They are told on the demande itself (`Demande.document_withdrawn_at`, which the inbox reads
with its rows at no extra query) and by an internal line of its history naming the type of
document, never its content.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre import consent
from coffre.catalogue import document_type
from coffre.consent import DemandeRef
from coffre.models import Document, Grant
from procedures.demandes import FamilyActor, family_demande
from procedures.errors import DemandeNotFound
from procedures.history import EngineContext, record_event
from procedures.models import OPEN_STATUSES, Demande

WITHDRAWN = "document_withdrawn"  # the history line's kind


def withdraw_consent(
    session: Session, ctx: EngineContext, actor: FamilyActor, demande_id: int, document_id: int
) -> bool:
    """The family withdraws its consent to one document for one of its demandes, which
    must be open; the agents are told. Commits; False when the document was not shared.

    DemandeNotFound for a demande or document of another foyer; ConsentError when closed.
    """
    demande = family_demande(session, actor, demande_id)
    document = session.get(Document, document_id)
    if document is None or document.foyer_id != actor.foyer_id:
        raise DemandeNotFound(f"document {document_id} is not in foyer {actor.foyer_id}")
    ref = DemandeRef(demande.id, actor.foyer_id, is_open=demande.status in OPEN_STATUSES)
    withdrawn = consent.revoke(session, ctx.clock, actor.account_id, document, ref)
    if withdrawn:
        _tell_agents(session, ctx, demande, actor.account_id, document.type_code)
    session.commit()
    return withdrawn


def before_deletion(
    session: Session, ctx: EngineContext, actor_id: int | None, foyer_id: int, document_id: int
) -> int:
    """Tell the agents of every open demande a document (or one of its previous versions)
    still serves that the family is deleting it; the deletion commits. Returns how many."""
    versions = _versions(session, foyer_id, document_id)
    if not versions:
        return 0
    serving = select(Grant.demande_id).where(
        Grant.document_id.in_([version.id for version in versions]), Grant.revoked_at.is_(None)
    )
    demandes = session.scalars(
        select(Demande)
        .where(Demande.id.in_(serving), Demande.status.in_(OPEN_STATUSES))
        .order_by(Demande.id)
    ).all()
    for demande in demandes:
        _tell_agents(session, ctx, demande, actor_id, versions[0].type_code)
    return len(demandes)


def _versions(session: Session, foyer_id: int, document_id: int) -> list[Document]:
    """The document and the versions it replaced, newest first; none outside the foyer."""
    versions: list[Document] = []
    current = session.get(Document, document_id)
    while current is not None and current.foyer_id == foyer_id:
        versions.append(current)
        current = session.get(Document, current.replaces_id) if current.replaces_id else None
    return versions


def _tell_agents(
    session: Session, ctx: EngineContext, demande: Demande, actor_id: int | None, type_code: str
) -> None:
    # A draft has no agent yet: nobody to tell.
    if demande.submitted_at is None:
        return
    demande.document_withdrawn_at = ctx.clock.now()
    label = document_type(type_code).label
    record_event(session, ctx, demande, actor_id, WITHDRAWN, label, internal=True)
