"""The logged-in user: read once per request with an agent's services, kept no longer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import delete, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from accounts.models import Account, AgentService, Service
from coffre.clock import FrozenClock
from tests.factories import make_agent, make_service
from tests.web.agents import sign_in_agent

INBOX = "/agent/taches"


@contextmanager
def statements_on(connection: Connection) -> Iterator[list[str]]:
    """The SQL statements sent on the test's connection meanwhile."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])  # (connection, cursor, statement, ...)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)


def signed_in(client: FlaskClient, agent: Account) -> FlaskClient:
    assert sign_in_agent(client, agent).status_code == 302
    return client


def test_the_inbox_reads_the_agent_and_its_services_in_one_query(
    client: FlaskClient, db_session: Session, clock: FrozenClock, connection: Connection
) -> None:
    agent_client = signed_in(client, make_agent(db_session, clock, make_service(db_session)))

    with statements_on(connection) as sent:
        assert agent_client.get(INBOX).status_code == 200

    assert len([s for s in sent if "session_version" in s]) == 1
    assert len([s for s in sent if "agent_services" in s]) == 1  # the same statement


def test_an_account_deactivated_in_the_database_is_refused_at_its_next_request(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    agent = make_agent(db_session, clock, make_service(db_session))
    agent_client = signed_in(client, agent)
    assert agent_client.get(INBOX).status_code == 200

    agent.is_active = False  # without ending its sessions: the loader checks it every time
    db_session.commit()

    assert agent_client.get(INBOX).status_code == 302  # to the login page


def test_an_agent_taken_out_of_a_service_loses_it_at_the_next_request(
    client: FlaskClient, db_session: Session, clock: FrozenClock, ville: Service
) -> None:
    agent = make_agent(db_session, clock, make_service(db_session))
    db_session.add(AgentService(account_id=agent.id, service_id=ville.id))
    db_session.commit()
    agent_client = signed_in(client, agent)
    assert agent_client.get(f"{INBOX}?service={ville.id}").status_code == 200

    db_session.execute(delete(AgentService).where(AgentService.service_id == ville.id))
    db_session.commit()

    assert agent_client.get(f"{INBOX}?service={ville.id}").status_code == 400


def test_a_supervisor_no_longer_supervising_loses_the_dashboard_at_the_next_request(
    client: FlaskClient, db_session: Session, clock: FrozenClock, ville: Service
) -> None:
    agent = make_agent(db_session, clock, ville)
    membership = db_session.get_one(AgentService, (agent.id, ville.id))
    membership.is_supervisor = True
    db_session.commit()
    agent_client = signed_in(client, agent)
    assert "Tableau de bord de supervision" in agent_client.get(INBOX).get_data(as_text=True)

    membership.is_supervisor = False
    db_session.commit()

    assert "Tableau de bord de supervision" not in agent_client.get(INBOX).get_data(as_text=True)
