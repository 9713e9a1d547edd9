"""The family-message operation: a service task e-mails the foyer's adults a family template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from procedures.family_mail import mail_family
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


FAMILY_OPERATIONS: Mapping[str, Operation] = {
    "notifier_famille": notify_family,
}
