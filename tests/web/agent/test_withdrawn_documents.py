"""An agent is told, on the request's page and in the inbox, when the family takes a document
back from an open request: consent withdrawn, or the document deleted from the vault."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from procedures.models import Demande, DemandeEvent
from tests.factories import make_agent, make_service, page_text
from tests.web.agent.test_demande import Case, page_of, second_client, submitted_case
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token


@pytest.fixture
def case(app: Flask, db_session: Session, clock: FrozenClock) -> Case:
    make_service(db_session, code="petite-enfance")
    return submitted_case(app, db_session, clock)


@pytest.fixture
def agent_client(
    client: FlaskClient, db_session: Session, clock: FrozenClock, case: Case
) -> FlaskClient:
    service = db_session.scalars(select(Service).where(Service.code == "petite-enfance")).one()
    agent: Account = make_agent(db_session, clock, service)
    assert sign_in_agent(client, agent).status_code == 302
    return client


WITHDRAWN_ON = "Document retiré par la famille le 1 septembre 2026"


def withdraw(app: Flask, case: Case, document_id: int) -> None:
    family = second_client(app, case.family)
    path = f"/famille/demandes/{case.demande_id}/documents/{document_id}/retirer"
    token = csrf_token(family, f"/famille/demandes/{case.demande_id}")
    assert family.post(path, data={"csrf_token": token}).status_code == 303


def test_request_page_and_inbox_say_the_family_withdrew_a_document(
    app: Flask, agent_client: FlaskClient, case: Case, clock: FrozenClock, db_session: Session
) -> None:
    before = page_text(agent_client.get("/agent/taches"))
    assert "Document retiré" not in before
    assert "Document retiré" not in page_text(agent_client.get(page_of(case)))

    clock.advance(timedelta(minutes=5))
    withdraw(app, case, case.address.id)

    page = page_text(agent_client.get(page_of(case)))
    assert f"{WITHDRAWN_ON} : Justificatif de domicile" in page
    assert "La famille a retiré un justificatif de cette demande." in page  # the history
    assert WITHDRAWN_ON in page_text(agent_client.get("/agent/taches"))
    db_session.expire_all()
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None and demande.document_withdrawn_at == clock.now()
    line = db_session.scalars(
        select(DemandeEvent).where(DemandeEvent.kind == "document_withdrawn")
    ).one()
    assert line.internal  # the family's own pages do not show it as the town's act


def test_withdrawing_a_document_not_shared_tells_nobody(
    app: Flask, agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    withdraw(app, case, case.kept.id)  # never granted to this request

    assert "Document retiré" not in page_text(agent_client.get(page_of(case)))
    assert "Document retiré" not in page_text(agent_client.get("/agent/taches"))
    db_session.expire_all()
    demande = db_session.get(Demande, case.demande_id)
    assert demande is not None and demande.document_withdrawn_at is None


def test_deleting_a_shared_document_from_the_vault_tells_the_agent(
    app: Flask, agent_client: FlaskClient, case: Case
) -> None:
    family = second_client(app, case.family)
    path = f"/famille/coffre/{case.income.id}/supprimer"
    assert family.post(path, data={"csrf_token": csrf_token(family, path)}).status_code == 303

    page = page_text(agent_client.get(page_of(case)))
    assert f"{WITHDRAWN_ON} : Avis d'imposition" in page
    assert f"/documents/{case.income.id}" not in page
    assert WITHDRAWN_ON in page_text(agent_client.get("/agent/taches"))


def test_the_inbox_reads_the_withdrawal_with_its_rows(
    app: Flask, agent_client: FlaskClient, case: Case, db_session: Session
) -> None:
    """No query of its own: the inbox reads neither the consents nor the history."""
    withdraw(app, case, case.address.id)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2].lower())

    bind = db_session.get_bind()
    event.listen(bind, "before_cursor_execute", record)
    try:
        assert WITHDRAWN_ON in page_text(agent_client.get("/agent/taches"))
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert statements
    assert not [s for s in statements if "grants" in s or "demande_events" in s]
