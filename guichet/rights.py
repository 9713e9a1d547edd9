"""Who may act at the counter, and for which foyers.

Counter mode is a supervised act for a family standing at the counter, not a way into any
household, so three rules hold (README, "The three spaces"):

- Only an agent acts there: an active agent account that belongs to at least one service
  (CounterNotAllowed otherwise).
- An agent opens a foyer's space only when an entity it works for has dealings with the
  foyer: the foyer has a demande that one of the entity's services handles or handled
  (`demande_access`), or the agent works in a service that runs the counter
  (`Service.runs_counter`): the town's reception, where families register and are served
  whether or not they have asked for anything yet. Any other foyer is reported as not
  found, as if it did not exist, and is left out of the counter's search.
- Issuing a family code (and so creating a household) is a right of the services that run
  the counter (CounterNotAllowed otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from accounts.household import FoyerNotFound
from accounts.models import Account, AgentService, Role, Service
from coffre.models import DemandeAccess, Foyer
from procedures.models import Demande


class CounterNotAllowed(Exception):
    """The account may not do this at the counter (not an agent, or no counter service)."""


@dataclass(frozen=True)
class CounterAgent:
    """An agent at the counter: the entities it works for, and whether it runs the counter."""

    id: int
    entity_ids: frozenset[int]
    runs_counter: bool


def counter_agent(session: Session, agent_id: int) -> CounterAgent:
    """The agent as the counter's rules see it; CounterNotAllowed for any other account."""
    account = session.get(Account, agent_id)
    if account is None or account.role is not Role.AGENT or not account.is_active:
        raise CounterNotAllowed(f"account {agent_id} is not an active agent")
    services = session.execute(
        select(Service.entity_id, Service.runs_counter)
        .join(AgentService, AgentService.service_id == Service.id)
        .where(AgentService.account_id == agent_id)
    ).all()
    if not services:
        raise CounterNotAllowed(f"account {agent_id} is not an agent of a service")
    return CounterAgent(
        id=agent_id,
        entity_ids=frozenset(entity_id for entity_id, _runs in services),
        runs_counter=any(runs for _entity_id, runs in services),
    )


def dealt_with(agent: CounterAgent) -> ColumnElement[bool]:
    """SQL condition on `Foyer`: the foyers this agent may open at the counter."""
    if agent.runs_counter:
        return true()
    handled = (
        select(Demande.foyer_id)
        .join(DemandeAccess, DemandeAccess.demande_id == Demande.id)
        .join(Service, Service.id == DemandeAccess.service_id)
        .where(Service.entity_id.in_(agent.entity_ids))
    )
    return Foyer.id.in_(handled)


def check_may_open(session: Session, agent: CounterAgent, foyer_id: int) -> None:
    """FoyerNotFound unless the foyer is live and the agent's entities deal with it."""
    found = session.scalar(
        select(Foyer.id).where(Foyer.id == foyer_id, Foyer.shredded_at.is_(None), dealt_with(agent))
    )
    if found is None:
        raise FoyerNotFound()


def check_may_issue_codes(agent: CounterAgent) -> None:
    """CounterNotAllowed unless the agent works in a service that runs the counter."""
    if not agent.runs_counter:
        raise CounterNotAllowed(f"account {agent.id} is in no service that runs the counter")
