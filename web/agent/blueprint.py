"""The agents' back office's blueprint, and who the logged-in agent is."""

from __future__ import annotations

from flask import Blueprint, g
from flask_login import current_user
from sqlalchemy import select

from accounts.models import AgentService
from coffre.consent import AgentReader
from procedures.tasks import AgentActor
from web.runtime import db

bp = Blueprint("agent", __name__, url_prefix="/agent")


def agent_actor() -> AgentActor:
    """The logged-in agent as the engine knows them: an account and its services.

    Read once per request (the access check and the view both ask for it).
    """
    if "agent_actor" not in g:
        service_ids = db().scalars(
            select(AgentService.service_id).where(AgentService.account_id == current_user.id)
        )
        g.agent_actor = AgentActor(account_id=current_user.id, service_ids=frozenset(service_ids))
    actor: AgentActor = g.agent_actor
    return actor


def agent_reader() -> AgentReader:
    """The logged-in agent as the vault knows them, for the access check."""
    actor = agent_actor()
    return AgentReader(account_id=actor.account_id, service_ids=actor.service_ids)


def supervised_service_ids() -> frozenset[int]:
    """The services the logged-in agent supervises."""
    return frozenset(
        db().scalars(
            select(AgentService.service_id).where(
                AgentService.account_id == current_user.id, AgentService.is_supervisor.is_(True)
            )
        )
    )
