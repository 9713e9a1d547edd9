"""Counter mode's state: the foyer an agent acts for, kept in the agent's signed session.

Set only by the POST that opens counter mode (web.agent.guichet), for the agent who
opened it; the guard of the family pages (web.auth.guard.role_required) and the family's
reader (web.famille.blueprint.family_reader) consult it. This module imports no page
module, so every space can import it without a cycle.
"""

from __future__ import annotations

from typing import Any

from flask import request, session
from flask_login import current_user

from accounts.models import Role
from coffre.models import Channel
from guichet.sessions import CounterSession

SESSION_KEY = "guichet"
# Family pages an agent never uses for a family: they act on the family's own login, or
# let someone into the foyer, which only its adults decide.
FORBIDDEN_ENDPOINTS = frozenset(
    {
        "auth.changer_mot_de_passe",
        "auth.inviter",
        "famille.supprimer_compte",
        "famille.rejoindre_accepter",
        "famille.rejoindre_refuser",
    }
)


def current_counter() -> CounterSession | None:
    """The counter session of the logged-in agent, if it opened one."""
    if not current_user.is_authenticated or current_user.role is not Role.AGENT:
        return None
    return counter_of(current_user.id)


def counter_of(agent_id: int) -> CounterSession | None:
    """The counter session this browser session holds for this agent, if any."""
    state: Any = session.get(SESSION_KEY)
    if not isinstance(state, dict) or state.get("agent_id") != agent_id:
        return None
    try:
        return CounterSession(**state)
    except TypeError:  # a session written by another version of this page: not counter mode
        return None


def acted_foyer_id() -> int | None:
    """The foyer the logged-in agent acts for at the counter, or None."""
    counter = current_counter()
    return counter.foyer_id if counter is not None else None


def acting_for_family() -> bool:
    """Whether the logged-in agent may use the current family page for its foyer."""
    return acted_foyer_id() is not None and request.endpoint not in FORBIDDEN_ENDPOINTS


def deposit_channel() -> Channel:
    """How a document reaches the vault: at the counter, or online by the family."""
    return Channel.GUICHET if acted_foyer_id() is not None else Channel.EN_LIGNE


def remember(counter: CounterSession) -> None:
    """Keep the counter session (its foyer and marks) for the agent's next requests."""
    session[SESSION_KEY] = {
        "agent_id": counter.agent_id,
        "foyer_id": counter.foyer_id,
        "journal_mark": counter.journal_mark,
        "event_mark": counter.event_mark,
    }


def forget() -> None:
    """End counter mode in this browser session."""
    session.pop(SESSION_KEY, None)
