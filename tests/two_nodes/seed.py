"""What the two nodes serve: a service, the test's procedure, families and enrolled agents.

Written through the service functions in the test's process, on the database the nodes use,
as an operator's seeding would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import second_factor
from accounts.models import Account, Role, Service
from coffre.clock import SystemClock, local_today
from procedures import catalogue, demandes
from procedures.definitions import load_definition
from procedures.demandes import FamilyActor
from tests.coffre.conftest import deposit, make_foyer, pdf_of
from tests.factories import PASSWORD, make_account, make_agent, make_service
from web.runtime import Runtime

PROCEDURE = "suivi_rapide"  # its diagram's timer waits 5 seconds before the agent's step
SERVICE = "accueil"  # the lane's service
HERE = Path(__file__).parent


@dataclass
class Accounts:
    families: list[str] = field(default_factory=list)  # e-mails, password PASSWORD
    agents: list[tuple[str, str]] = field(default_factory=list, repr=False)  # e-mail, TOTP
    locked_out: str = ""  # the account the throttle check fails to log into


def publish_and_submit(rt: Runtime, count: int) -> list[int]:
    """Publish the procedure and its service; submit `count` demandes of one family through
    the services (their timers fall due 5 seconds later); their ids."""
    clock = SystemClock()
    with rt.sessions() as session:
        make_service(session, code=SERVICE)
        definition = load_definition((HERE / f"{PROCEDURE}.toml").read_text(encoding="utf-8"))
        catalogue.publish(
            session, clock, definition, (HERE / f"{PROCEDURE}.bpmn").read_bytes(), None
        )
        session.commit()
        foyer = make_foyer(session, clock, "Foyer préparé")
        family = FamilyActor(
            make_account(session, clock, Role.FAMILLE, foyer_id=foyer.id).id, foyer.id
        )
        submitted = []
        for number in range(count):
            paper = deposit(
                rt.vault, session, foyer, pdf_of(1000 + number), issued_on=local_today(clock)
            )
            draft = demandes.create_draft(session, rt.engine_context, family, PROCEDURE)
            form = {"objet": f"préparée {number}"}
            demande = demandes.submit(
                session, rt.engine_context, family, draft.id, form, [paper.id]
            )
            submitted.append(demande.id)
    return submitted


def make_accounts(rt: Runtime, families: int, agents: int) -> Accounts:
    """Families with a foyer each, agents of the procedure's service with their second factor
    enrolled, and one family account for the throttle check."""
    clock = SystemClock()
    result = Accounts()
    with rt.sessions() as session:
        service = session.scalars(select(Service).where(Service.code == SERVICE)).one()
        for _ in range(agents):
            agent = make_agent(session, clock, service)
            result.agents.append((agent.email, _enrol(session, rt, agent)))
        for number in range(families):
            foyer = make_foyer(session, clock, f"Foyer {number}")
            account = make_account(session, clock, Role.FAMILLE, foyer_id=foyer.id)
            result.families.append(account.email)
        result.locked_out = make_account(session, clock, Role.FAMILLE).email
    return result


def _enrol(session: Session, rt: Runtime, agent: Account) -> str:
    """Enrol the agent's second factor with the current step's code; the TOTP secret."""
    secret = second_factor.start_enrolment(session, rt.keyring, agent.id).secret
    code = pyotp.TOTP(secret).now()
    second_factor.confirm_enrolment(session, SystemClock(), rt.keyring, agent.id, code)
    return secret


__all__ = ["PASSWORD", "PROCEDURE", "Accounts", "make_accounts", "publish_and_submit"]
