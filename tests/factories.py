"""Test data built through the service functions, so tests see what production would."""

from __future__ import annotations

import html
import itertools

from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts import information
from accounts.credentials import create_account
from accounts.models import Account, AgentService, Entity, Role, Service
from coffre.clock import Clock
from coffre.models import Foyer, FoyerMember, MemberRole

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_foyer(session: Session, clock: Clock, label: str = "Famille Test") -> Foyer:
    foyer = Foyer(label=label, created_at=clock.now())
    foyer.members = [FoyerMember(role=MemberRole.ADULTE, first_name="Alex", last_name="Test")]
    session.add(foyer)
    session.flush()
    return foyer


def make_account(session: Session, clock: Clock, role: Role, **fields: object) -> Account:
    number = next(_counter)
    values: dict[str, object] = {
        "email": f"{role.value}{number}@test.example",
        "password": PASSWORD,
        "display_name": f"{role.value.title()} {number}",
    }
    values.update(fields)
    if role is Role.FAMILLE and "foyer_id" not in values:
        values["foyer_id"] = make_foyer(session, clock).id
    account = create_account(session, clock, role=role, **values)  # type: ignore[arg-type]
    if role is Role.FAMILLE:  # as if signed up: it read the information in force
        information.record_acceptance(
            session, account, clock, information.in_force_identifier(session)
        )
    session.commit()
    return account


def make_service(
    session: Session, code: str | None = None, *, runs_counter: bool = False
) -> Service:
    """A service of a new entity of its own; `runs_counter` as for the town's reception."""
    number = next(_counter)
    entity = Entity(slug=f"entite-{number}", name=f"Entité {number}")
    service = Service(
        entity=entity,
        code=code or f"service-{number}",
        name=f"Service {number}",
        runs_counter=runs_counter,
    )
    session.add(service)
    session.flush()
    return service


def make_agent(session: Session, clock: Clock, service: Service | None = None) -> Account:
    agent = make_account(session, clock, Role.AGENT)
    service = service or make_service(session)
    session.add(AgentService(account_id=agent.id, service_id=service.id))
    session.commit()
    return agent


def make_supervisor(session: Session, clock: Clock, service: Service, **fields: object) -> Account:
    """An agent who supervises the service."""
    account = make_account(session, clock, Role.AGENT, **fields)
    session.add(AgentService(account_id=account.id, service_id=service.id, is_supervisor=True))
    session.commit()
    return account


def page_text(response: TestResponse) -> str:
    """The response body with HTML entities decoded, as a reader sees it."""
    return html.unescape(response.get_data(as_text=True))
