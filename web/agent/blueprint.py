"""The agents' back office's blueprint, and who the logged-in agent is."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from coffre.consent import AgentReader
from procedures.tasks import AgentActor

bp = Blueprint("agent", __name__, url_prefix="/agent")


def agent_actor() -> AgentActor:
    """The logged-in agent as the engine knows them: an account and its services.

    The services come with the user, read once per request (web.auth.guard).
    """
    return AgentActor(account_id=current_user.id, service_ids=current_user.service_ids)


def agent_reader() -> AgentReader:
    """The logged-in agent as the vault knows them, for the access check."""
    return AgentReader(account_id=current_user.id, service_ids=current_user.service_ids)


def supervised_service_ids() -> frozenset[int]:
    """The services the logged-in agent supervises."""
    ids: frozenset[int] = current_user.supervised_service_ids
    return ids
