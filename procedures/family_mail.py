"""E-mailing a demande's family: each adult account of the foyer gets one notice.

The notice says which demande (its reference and procedure) and links to it; what happened
stays online, behind the family's login, never in the e-mail.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from accounts.family import family_accounts
from coffre.clock import Clock
from notifications import outbox
from procedures.models import Demande


def mail_family(
    session: Session,
    clock: Clock,
    base_url: str,
    demande: Demande,
    title: str,
    *,
    template: str,
    key: str,
    extra: dict[str, str] | None = None,
) -> int:
    """Queue `template` for each adult of the foyer (idempotent per `key` and account);
    the number queued."""
    context = {
        "reference": demande.number or str(demande.id),
        "demarche": title,
        "lien": f"{base_url.rstrip('/')}/famille/demandes/{demande.id}",
        **(extra or {}),
    }
    return sum(
        outbox.enqueue(
            session,
            clock,
            key=f"{key}:{account.id}",
            recipient=account.email,
            template=template,
            context=context,
        )
        for account in family_accounts(session, demande.foyer_id)
    )
