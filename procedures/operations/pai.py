"""The individualised care plan (PAI): which school the child attends, and the plan shared
with that school's canteen and after-school teams once the school doctor validated it.

`situer_ecole_pai` takes the school chosen on the form, or else the one on the child's
file (Mon foyer), and tells the doctor which it is. `partager_pai` shares the signed plan
the family granted to the demande with the services whose team works at that school
(`Service.school`), until the last day of the school year the plan is for, through the
vault (`coffre.sharing.teams`): no other school's team, and no service of the whole town,
reads it. The child's file then says it has a PAI, which the attendance sheets show.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select

from accounts.models import Service
from coffre.clock import local_today
from coffre.models import Document, FoyerMember, Grant, MemberRole
from coffre.sharing import teams
from notifications.templates import date_fr
from procedures.history import EngineContext, record_event
from procedures.operations.context import Operation, OperationContext, OperationError

PLAN_TYPE = "pai_medical"
# Plans validated from May on are for the school year starting in September.
NEXT_YEAR_FROM_MONTH = 5


def plan_valid_until(today: date) -> date:
    """The last day of the school year the plan is for (the coming one from May on)."""
    return date(today.year + (today.month >= NEXT_YEAR_FROM_MONTH), 8, 31)


def place_school(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The child's school: chosen on the form, or else recorded on the child's file."""
    chosen = str(context.data.get("ecole") or "").strip()
    recorded = (_child(context).school or "").strip()
    school, source = (chosen, "formulaire") if chosen else (recorded, "fiche" if recorded else "")
    _note(context, "pai_ecole", _placed(school, source))
    return {"ecole": school, "source": source}


def _placed(school: str, source: str) -> str:
    if not school:
        return "École de l'enfant inconnue : demandez-la à la famille avant de valider."
    where = (
        "choisie sur le formulaire" if source == "formulaire" else "lue sur la fiche de l'enfant"
    )
    return f"École de l'enfant : « {school} » ({where})."


def share_plan(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Share the signed plan with the teams of the child's school until the end of the
    school year; the child's file records the PAI. Idempotent."""
    placed = context.data.get("ecole_pai")
    school = str(placed.get("ecole", "")) if isinstance(placed, Mapping) else ""
    child = _child(context)
    until = plan_valid_until(local_today(context.clock))
    services = _teams(context, school)
    for plan in _plans(context):
        teams.share(
            context.session, context.clock, plan, context.demande.id, school,
            [service.id for service in services], until,
        )  # fmt: skip
    child.has_pai = True
    names = ", ".join(service.name for service in services) or "aucune équipe"
    _note(context, "pai_partage", f"PAI partagé avec : {names}, jusqu'au {date_fr(until)}.")
    return {"equipes": len(services), "valable_jusqu_au": until.isoformat()}


def _teams(context: OperationContext, school: str) -> list[Service]:
    if not school:
        return []
    return list(
        context.session.scalars(
            select(Service).where(Service.school == school).order_by(Service.name, Service.id)
        )
    )


def _plans(context: OperationContext) -> list[Document]:
    """The signed plans the family granted to this demande (consent in force)."""
    return list(
        context.session.scalars(
            select(Document)
            .join(Grant, Grant.document_id == Document.id)
            .where(
                Grant.demande_id == context.demande.id,
                Grant.revoked_at.is_(None),
                Document.type_code == PLAN_TYPE,
            )
            .order_by(Document.id)
        )
    )


def _child(context: OperationContext) -> FoyerMember:
    value = str(context.data.get("enfant", ""))
    child = context.session.get(FoyerMember, int(value)) if value.isdigit() else None
    if child is None or child.foyer_id != context.demande.foyer_id:
        raise OperationError("the demande names no child of its foyer")
    if child.role is not MemberRole.ENFANT:
        raise OperationError("the demande's member is not a child")
    return child


def _note(context: OperationContext, kind: str, text: str) -> None:
    """An internal line of the demande's history, for the school doctor."""
    ctx = EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault)
    record_event(context.session, ctx, context.demande, None, kind, text, internal=True)


PAI_OPERATIONS: Mapping[str, Operation] = {
    "situer_ecole_pai": place_school,
    "partager_pai": share_plan,
}
