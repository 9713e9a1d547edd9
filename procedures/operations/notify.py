"""The family-message operation: a service task e-mails the foyer's adults a family template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accounts.family import family_accounts
from notifications import outbox
from procedures.operations.context import Operation, OperationContext, OperationError

FAMILY_TEMPLATES = frozenset({"demande_recue", "decision"})


def notify_family(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """E-mail every adult account of the foyer with one of the family templates."""
    template = str(params.get("modele", ""))
    if template not in FAMILY_TEMPLATES:
        raise OperationError(f"unknown family message template {template!r}")
    demande = context.demande
    values = {
        "reference": demande.number or str(demande.id),
        "demarche": context.title,
        "lien": f"{context.base_url}/famille/demandes/{demande.id}",
    }
    queued = sum(
        outbox.enqueue(
            context.session,
            context.clock,
            key=f"step:{context.step_id}:{account.id}",
            recipient=account.email,
            template=template,
            context=values,
        )
        for account in family_accounts(context.session, demande.foyer_id)
    )
    return {"messages": queued}


FAMILY_OPERATIONS: Mapping[str, Operation] = {
    "notifier_famille": notify_family,
}
