"""The named operations a diagram's service tasks may call; diagrams hold no code.

Each operation receives the demande's context and the parameters the diagram gave
(evaluated by the restricted evaluator) and returns a small JSON-able result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.vault import Vault
from procedures import notifications
from procedures.demande_models import Demande
from procedures.models import Account, Role


@dataclass(frozen=True)
class OperationContext:
    session: Session
    clock: Clock
    demande: Demande
    title: str  # the procedure's French title
    step_id: str  # the SpiffWorkflow task id: makes each call's side effects idempotent
    base_url: str
    data: Mapping[str, Any]  # the workflow data at this step (form values, earlier results)
    vault: Vault | None = None  # for operations that put a document into the family's vault


Operation = Callable[[OperationContext, Mapping[str, Any]], Mapping[str, Any]]
FAMILY_TEMPLATES = frozenset({"demande_recue", "decision"})


class OperationError(Exception):
    """A service task asked for something the operation refuses."""


def notify_family(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """E-mail every adult account of the foyer with one of the family templates."""
    template = str(params.get("modele", ""))
    if template not in FAMILY_TEMPLATES:
        raise OperationError(f"unknown family message template {template!r}")
    demande = context.demande
    accounts = context.session.scalars(
        select(Account).where(
            Account.foyer_id == demande.foyer_id,
            Account.role == Role.FAMILLE,
            Account.is_active.is_(True),
        )
    ).all()
    values = {
        "reference": demande.number or str(demande.id),
        "demarche": context.title,
        "lien": f"{context.base_url}/famille/demandes/{demande.id}",
    }
    queued = sum(
        notifications.enqueue(
            context.session,
            context.clock,
            key=f"step:{context.step_id}:{account.id}",
            recipient=account.email,
            template=template,
            context=values,
        )
        for account in accounts
    )
    return {"messages": queued}


FAMILY_OPERATIONS: Mapping[str, Operation] = {
    "notifier_famille": notify_family,
}
