"""What the teams of a child's school read of a care plan shared with them, and what the
family sees of those shares.

The rule and the reads are the vault's (`coffre.sharing.teams`, `coffre.consent`); this
module shapes them for pages: a team's list of the plans it may read today (the child's
name, the school, until when), the read of one plan (logged, journaled, shown to the
family), and for the family, each team its demande's plan is shared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.consent import AgentReader
from coffre.errors import AccessDenied, DocumentNotFound
from coffre.models import FoyerMember, TeamShare
from coffre.sharing import teams
from coffre.vault import OpenedDocument, Vault
from procedures.demandes import FamilyActor, family_demande
from procedures.tasks import AgentActor

READ_PURPOSE = "equipe"  # a team of the child's school read a care plan


@dataclass(frozen=True)
class TeamPlan:
    """A plan a team may read today."""

    document_id: int
    child: str  # first and last name
    school: str
    valid_until: date


@dataclass(frozen=True)
class ShareLine:
    """A team the family's plan is shared with."""

    service: str
    school: str
    valid_until: date
    in_force: bool


def team_plans(session: Session, agent: AgentActor, today: date) -> list[TeamPlan]:
    """The plans shared with the agent's services that they may read today, one per plan."""
    plans: dict[int, TeamPlan] = {}
    for share in teams.shared_with(session, agent.service_ids, today):
        if share.document_id not in plans:
            plans[share.document_id] = TeamPlan(
                share.document_id, _child(session, share), share.school, share.valid_until
            )
    return list(plans.values())


def _child(session: Session, share: TeamShare) -> str:
    child = session.get(FoyerMember, share.member_id) if share.member_id else None
    return f"{child.first_name} {child.last_name}" if child else ""


def read_team_plan(
    session: Session, vault: Vault, agent: AgentActor, document_id: int, today: date
) -> OpenedDocument:
    """Open a plan shared with the agent's services (the read is logged and journaled);
    "not found" for any other document, whoever's it is."""
    reader = AgentReader(agent.account_id, agent.service_ids)
    try:
        return vault.open(session, reader, document_id, purpose=READ_PURPOSE, team_on=today)
    except AccessDenied:
        raise DocumentNotFound(f"document {document_id} is not shared with a team") from None


def family_shares(
    session: Session, actor: FamilyActor, demande_id: int, today: date
) -> list[ShareLine]:
    """The teams the family's demande shared its plan with, and whether each still reads it."""
    demande = family_demande(session, actor, demande_id)
    shares = teams.shares_of(session, actor.foyer_id, demande.id)
    ids = {share.service_id for share in shares}
    names: dict[int, str] = {
        row.id: row.name
        for row in session.execute(select(Service.id, Service.name).where(Service.id.in_(ids)))
    }
    reading = set(
        session.scalars(
            select(TeamShare.id).where(
                TeamShare.demande_id == demande.id, teams.in_force(ids, today)
            )
        )
    )
    return [
        ShareLine(
            names.get(share.service_id, ""), share.school, share.valid_until, share.id in reading
        )
        for share in shares
    ]
