"""Administration of agents: invitation by e-mail, services and supervision, second factor, status.

An administrator reaches an agent when it is global, or when every service of the agent
belongs to its own entity (an agent shared between entities is left to a global
administrator). An agent out of reach is reported as not found.

An invited agent's account is created inactive, with no usable password: its password hash
holds a locked marker ("!" and random characters, which no password can match, as in
/etc/shadow). The invitation link is a signed token of accounts.activation's kind, bound
to that marker, so it works once: choosing the password replaces the marker and activates
the account; the agent then enrols its second factor at its first login.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import second_factor
from accounts.activation import InvalidToken, LinkBuilder, _dump, _fingerprint, _load
from accounts.credentials import (
    check_new_password,
    end_sessions,
    find_account,
    hash_password,
    normalize_email,
)
from accounts.models import Account, AgentService, Role, Service
from accounts.organisation import (
    AdminError,
    Administrator,
    InvalidValue,
    NotFound,
    administrator,
    clean_name,
    record,
)
from coffre.clock import Clock
from notifications.outbox import enqueue

INVITATION_VALIDITY = timedelta(days=7)
INVITATION_TEMPLATE = "invitation_agent"
LOCKED_PREFIX = "!"
# accounts.activation's signed, clock-checked tokens, under a purpose of their own.
_PURPOSE = "invitation-agent"

# The services an agent is given: service id -> whether it supervises that service.
Memberships = Mapping[int, bool]


class InvalidAgentState(AdminError):
    """The action does not fit the agent's status (deactivating an invited agent...)."""


class AgentStatus(StrEnum):
    ACTIVE = "active"
    INVITED = "invited"  # has not chosen a password yet
    DEACTIVATED = "deactivated"


def awaits_password(account: Account) -> bool:
    """Whether the account was invited and has not chosen its password yet."""
    return account.password_hash.startswith(LOCKED_PREFIX)


def status_of(account: Account) -> AgentStatus:
    if account.is_active:
        return AgentStatus.ACTIVE
    return AgentStatus.INVITED if awaits_password(account) else AgentStatus.DEACTIVATED


def _locked_password() -> str:
    return LOCKED_PREFIX + secrets.token_hex(16)


# --- reach --------------------------------------------------------------------------------


def _entities_of(agent: Account) -> set[int]:
    return {membership.service.entity_id for membership in agent.memberships}


def _reaches(actor: Administrator, agent: Account) -> bool:
    if agent.role is not Role.AGENT:
        return False
    return actor.is_global or _entities_of(agent) == {actor.entity_id}


def _agent(session: Session, actor: Administrator, agent_id: int) -> Account:
    agent = session.get(Account, agent_id)
    if agent is None or not _reaches(actor, agent):
        raise NotFound()
    return agent


def _journal_entity(actor: Administrator, agent: Account) -> int | None:
    """The entity an agent's change is filed under: its only entity, else the actor's."""
    entities = _entities_of(agent)
    return next(iter(entities)) if len(entities) == 1 else actor.entity_id


def _services(session: Session, actor: Administrator, memberships: Memberships) -> list[Service]:
    if not memberships:
        raise InvalidValue("services", "none")
    chosen = [session.get(Service, service_id) for service_id in sorted(memberships)]
    if any(s is None or not actor.reaches(s.entity_id) for s in chosen):
        raise NotFound()
    return [s for s in chosen if s is not None]


def _services_state(agent: Account) -> dict[str, str]:
    return {
        m.service.code: "supervisor" if m.is_supervisor else "agent"
        for m in sorted(agent.memberships, key=lambda m: m.service.code)
    }


def _change(
    session: Session,
    clock: Clock,
    actor: Administrator,
    agent: Account,
    action: str,
    states: tuple[Mapping[str, Any] | None, Mapping[str, Any] | None],
) -> None:
    record(
        session,
        clock,
        actor,
        action=action,
        target=("agent", agent.id),
        entity_id=_journal_entity(actor, agent),
        before=states[0],
        after=states[1],
    )


# --- invitation ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Invitation:
    """Who to invite: an address, a name and the services with supervision flags."""

    email: str
    display_name: str
    memberships: Memberships


def _clean_email(email: str) -> str:
    email = normalize_email(email)
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email or len(email) > 254:
        raise InvalidValue("email", "format")
    return email


def invite_agent(
    session: Session,
    clock: Clock,
    actor_id: int,
    invitation: Invitation,
    *,
    secret: str,
    link: LinkBuilder,
) -> int:
    """Create an inactive agent account and queue its invitation e-mail; commits, returns its id."""
    actor = administrator(session, actor_id)
    email = _clean_email(invitation.email)
    name = clean_name(invitation.display_name, "display_name")
    services = _services(session, actor, invitation.memberships)
    if find_account(session, email) is not None:
        raise InvalidValue("email", "taken")
    agent = Account(
        email=email,
        password_hash=_locked_password(),
        role=Role.AGENT,
        display_name=name,
        is_active=False,
        created_at=clock.now(),
    )
    agent.memberships = [
        AgentService(service=s, is_supervisor=invitation.memberships[s.id]) for s in services
    ]
    session.add(agent)
    session.flush()
    after = {"email": email, "display_name": name, "services": _services_state(agent)}
    _change(session, clock, actor, agent, "agent.invited", (None, after))
    _send_invitation(session, clock, agent, secret=secret, link=link)
    session.commit()
    return agent.id


def _send_invitation(
    session: Session, clock: Clock, agent: Account, *, secret: str, link: LinkBuilder
) -> None:
    token = _dump(secret, _PURPOSE, clock, {"a": agent.id, "s": _invitation_state(agent)})
    entity_names = sorted({m.service.entity.name for m in agent.memberships})
    enqueue(
        session,
        clock,
        key=f"invitation-agent:{agent.id}:{_fingerprint(token)}",
        recipient=agent.email,
        template=INVITATION_TEMPLATE,
        context={"lien": link(token), "entite": ", ".join(entity_names)},
    )


def _invitation_state(agent: Account) -> str:
    return _fingerprint(agent.id, agent.is_active, agent.password_hash)


def resend_invitation(
    session: Session, clock: Clock, actor_id: int, agent_id: int, *, secret: str, link: LinkBuilder
) -> None:
    """Queue a new invitation link for an invited agent; earlier links stop working. Commits."""
    actor = administrator(session, actor_id)
    agent = _agent(session, actor, agent_id)
    if status_of(agent) is not AgentStatus.INVITED:
        raise InvalidAgentState()
    agent.password_hash = _locked_password()
    _change(session, clock, actor, agent, "agent.invitation_resent", (None, None))
    _send_invitation(session, clock, agent, secret=secret, link=link)
    session.commit()


def cancel_invitation(session: Session, clock: Clock, actor_id: int, agent_id: int) -> None:
    """Delete the account of an agent who has not accepted its invitation yet; commits."""
    actor = administrator(session, actor_id)
    agent = _agent(session, actor, agent_id)
    if status_of(agent) is not AgentStatus.INVITED:
        raise InvalidAgentState()
    before = {"email": agent.email, "display_name": agent.display_name}
    _change(session, clock, actor, agent, "agent.invitation_cancelled", (before, None))
    session.delete(agent)
    session.commit()


def check_invitation(session: Session, clock: Clock, *, secret: str, token: str) -> Account:
    """The invited agent of a valid, unused invitation link; consumes nothing."""
    payload = _load(secret, _PURPOSE, token, now=clock.now(), max_age=INVITATION_VALIDITY)
    agent_id = payload.get("a")
    agent = session.get(Account, agent_id) if isinstance(agent_id, int) else None
    if agent is None or agent.role is not Role.AGENT or status_of(agent) is not AgentStatus.INVITED:
        raise InvalidToken()
    if payload.get("s") != _invitation_state(agent):
        raise InvalidToken()
    return agent


def accept_invitation(
    session: Session, clock: Clock, *, secret: str, token: str, password: str
) -> Account:
    """Set the invited agent's password and activate its account (once); commits.

    Raises accounts.credentials.WeakPassword for a password that would not do.
    """
    agent = check_invitation(session, clock, secret=secret, token=token)
    check_new_password(password, agent.email)
    agent.password_hash = hash_password(password)
    agent.is_active = True
    session.commit()
    return agent


# --- services, second factor, status ------------------------------------------------------


def set_agent_services(
    session: Session, clock: Clock, actor_id: int, agent_id: int, memberships: Memberships
) -> None:
    """Replace an agent's services and supervision flags (at least one service); commits."""
    actor = administrator(session, actor_id)
    agent = _agent(session, actor, agent_id)
    before = {"services": _services_state(agent)}
    services = _services(session, actor, memberships)
    agent.memberships = [AgentService(service=s, is_supervisor=memberships[s.id]) for s in services]
    session.flush()
    after = {"services": _services_state(agent)}
    if after == before:
        return
    _change(session, clock, actor, agent, "agent.services_changed", (before, after))
    session.commit()


def reset_agent_second_factor(session: Session, clock: Clock, actor_id: int, agent_id: int) -> None:
    """Forget an agent's second factor, so it enrols again at its next login; commits."""
    actor = administrator(session, actor_id)
    agent = _agent(session, actor, agent_id)
    if status_of(agent) is AgentStatus.INVITED:
        raise InvalidAgentState()
    before = {"second_factor": second_factor.is_enrolled(agent)}
    _change(
        session,
        clock,
        actor,
        agent,
        "agent.second_factor_reset",
        (before, {"second_factor": False}),
    )
    second_factor.reset_second_factor(session, agent.id)  # commits the journal entry too


# What the other packages do when an agent is deactivated, each returning what the admin
# journal records of it: procedures.tasks gives the agent's held tasks back to its services.
# This package does not know procedures exist; procedures registers itself here on import.
DeactivationHook = Callable[[Session, int], Mapping[str, Any]]
_deactivation_hooks: list[DeactivationHook] = []


def on_deactivation(hook: DeactivationHook) -> DeactivationHook:
    """Register `hook(session, account_id)` to run in the transaction deactivating an agent."""
    _deactivation_hooks.append(hook)
    return hook


def set_agent_active(
    session: Session, clock: Clock, actor_id: int, agent_id: int, *, active: bool
) -> None:
    """Deactivate an active agent (it can no longer sign in; the tasks it held go back to its
    services' queues) or reactivate it; commits."""
    actor = administrator(session, actor_id)
    agent = _agent(session, actor, agent_id)
    expected = AgentStatus.DEACTIVATED if active else AgentStatus.ACTIVE
    if status_of(agent) is not expected:
        raise InvalidAgentState()
    agent.is_active = active
    if active:
        _change(
            session, clock, actor, agent, "agent.reactivated", ({"active": False}, {"active": True})
        )
    else:
        end_sessions(agent)
        after: dict[str, Any] = {"active": False}
        for hook in _deactivation_hooks:
            after.update(hook(session, agent.id))
        _change(session, clock, actor, agent, "agent.deactivated", ({"active": True}, after))
    session.commit()


# --- what an administrator sees -----------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    service_id: int
    service_name: str
    entity_name: str
    is_supervisor: bool


@dataclass(frozen=True)
class AgentView:
    id: int
    email: str
    display_name: str
    status: AgentStatus
    second_factor: bool
    last_login_at: datetime | None
    memberships: tuple[Membership, ...]


def _view(agent: Account) -> AgentView:
    memberships = tuple(
        Membership(m.service_id, m.service.name, m.service.entity.name, m.is_supervisor)
        for m in sorted(agent.memberships, key=lambda m: (m.service.entity.name, m.service.name))
    )
    return AgentView(
        agent.id,
        agent.email,
        agent.display_name,
        status_of(agent),
        second_factor.is_enrolled(agent),
        agent.last_login_at,
        memberships,
    )


def agents(session: Session, actor_id: int) -> list[AgentView]:
    """The agents this administrator administers, by name."""
    actor = administrator(session, actor_id)
    query = select(Account).where(Account.role == Role.AGENT)
    if not actor.is_global:
        members = (
            select(AgentService.account_id)
            .join(Service, Service.id == AgentService.service_id)
            .where(Service.entity_id == actor.entity_id)
        )
        query = query.where(Account.id.in_(members))
    found = [a for a in session.scalars(query) if _reaches(actor, a)]
    return [_view(a) for a in sorted(found, key=lambda a: (a.display_name.lower(), a.id))]


def agent(session: Session, actor_id: int, agent_id: int) -> AgentView:
    """One agent this administrator administers; NotFound otherwise."""
    actor = administrator(session, actor_id)
    return _view(_agent(session, actor, agent_id))
