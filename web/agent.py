"""The agents' back office: the blueprint its pages register on, and who the agent is."""

from __future__ import annotations

from flask import Blueprint, g, redirect, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import AgentService, Role
from coffre.consent import AgentReader
from procedures.tasks import AgentActor
from web.auth import role_required
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


@bp.get("/")
@role_required(Role.AGENT)
def index() -> BaseResponse:
    return redirect(url_for("agent.inbox"))


# The back office's pages, one module per concept, register their routes on `bp` when imported.
import web.agent_demande  # noqa: E402
import web.agent_guichet  # noqa: E402
import web.agent_inbox  # noqa: E402
import web.agent_supervision  # noqa: E402, F401
