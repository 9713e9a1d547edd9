"""E-mailing a demande's family: the family-message operation a service task calls, and the
helper the services use for their own notices (each adult account of the foyer gets one; it
says which demande and links to it, what happened stays online, never in the e-mail)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from accounts.family import family_accounts
from coffre.clock import Clock
from notifications import outbox
from procedures.models import Demande
from procedures.operations.context import Operation, OperationContext, OperationError

FAMILY_TEMPLATES = frozenset({"demande_recue", "decision"})


def notify_family(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """E-mail every adult account of the foyer with one of the family templates."""
    template = str(params.get("modele", ""))
    if template not in FAMILY_TEMPLATES:
        raise OperationError(f"unknown family message template {template!r}")
    queued = mail_family(
        context.session, context.clock, context.base_url, context.demande, context.title,
        template=template, key=f"step:{context.step_id}",
    )  # fmt: skip
    return {"messages": queued}


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


FAMILY_OPERATIONS: Mapping[str, Operation] = {
    "notifier_famille": notify_family,
}
