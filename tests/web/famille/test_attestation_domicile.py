"""The residence certificate through HTTP: a family asks for it from the catalogue with its
proof of address, the school service's agent reads the foyer's address in the history and
issues it, and the family opens it from its request; a refusal shows its reason."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from coffre.models import Document, Foyer, FoyerMember, MemberRole
from procedures.models import Demande, DemandeStatus
from tests.factories import make_agent, make_service, page_text
from tests.procedures.flows import open_task, publish
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token
from tests.web.conftest import deposit

CODE = "attestation_domicile"


@pytest.fixture
def scolaire(db_session: Session, clock: FrozenClock, family: Account) -> Service:
    service = make_service(db_session, code="scolaire")
    service.name = "Affaires scolaires"
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.address_line, foyer.postal_code, foyer.city = "12 rue des Lilas", "33600", "Bellerive"
    foyer.members.append(FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Test"))
    db_session.commit()
    publish(db_session, clock, CODE)
    return service


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client, "/famille/"), **(data or {})})


def file_request(app: Flask, session: Session, client: FlaskClient, family: Account) -> int:
    """The family's whole filing through its pages: start, child, proof of address, submit."""
    assert family.foyer_id is not None
    child = session.scalars(
        select(FoyerMember).where(
            FoyerMember.foyer_id == family.foyer_id, FoyerMember.role == MemberRole.ENFANT
        )
    ).one()
    proof = deposit(app, session, family.foyer_id, issued_on=date(2026, 8, 10))
    started = post(client, f"/famille/demarches/{CODE}/commencer")
    match = re.search(r"/famille/demandes/(\d+)/formulaire", started.headers["Location"])  # type: ignore[attr-defined]
    assert match
    demande_id = int(match.group(1))
    form = {"enfant": str(child.id), "action": "continuer"}
    assert post(client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303  # type: ignore[attr-defined]
    shared = {"partage": [proof.id]}
    assert post(client, f"/famille/demandes/{demande_id}/justificatifs", shared).status_code == 303  # type: ignore[attr-defined]
    assert post(client, f"/famille/demandes/{demande_id}/deposer").status_code == 303  # type: ignore[attr-defined]
    return demande_id


def decide(
    app: Flask, session: Session, agent: FlaskClient, demande_id: int, data: dict[str, str]
) -> None:
    page = f"/agent/demandes/{demande_id}"
    for act, sent in (("prendre", {}), ("terminer", data)):
        session.expire_all()
        demande = session.get(Demande, demande_id)
        assert demande is not None
        task = open_task(session, demande)
        form = {"csrf_token": csrf_token(agent, page), "version": task.row_version, **sent}
        assert agent.post(f"{page}/taches/{task.id}/{act}", data=form).status_code == 303


def test_a_family_asks_for_it_and_the_agent_issues_it_into_the_vault(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    family: Account,
    scolaire: Service,
) -> None:
    catalogue = page_text(family_client.get("/famille/demarches"))
    assert "Attestation de domicile pour l'inscription scolaire" in catalogue

    demande_id = file_request(app, db_session, family_client, family)

    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, scolaire)).status_code == 302
    review = page_text(agent.get(f"/agent/demandes/{demande_id}"))
    assert "Vérifier le justificatif de domicile" in review
    assert "Adresse du foyer relevée." in review
    assert "Adresse du dossier du foyer : 12 rue des Lilas, 33600 Bellerive." in review
    decide(app, db_session, agent, demande_id, {"decision": "delivrer"})

    db_session.expire_all()
    demande = db_session.get(Demande, demande_id)
    assert demande is not None and demande.status is DemandeStatus.ACCEPTEE
    certificate = db_session.scalars(
        select(Document).where(
            Document.foyer_id == family.foyer_id, Document.type_code == "attestation_mairie"
        )
    ).one()
    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Acceptée" in detail and "Documents délivrés par la mairie" in detail
    assert "Adresse du dossier du foyer" not in detail  # the agents' internal line
    assert f'href="/famille/coffre/{certificate.id}/voir"' in detail
    assert family_client.get(f"/famille/coffre/{certificate.id}/voir").status_code == 200


def test_a_refusal_shows_the_family_its_reason(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    family: Account,
    scolaire: Service,
) -> None:
    demande_id = file_request(app, db_session, family_client, family)
    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, scolaire)).status_code == 302
    reason = "L'adresse du justificatif n'est pas celle de votre foyer."

    decide(app, db_session, agent, demande_id, {"decision": "refuser", "motif": reason})

    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Refusée" in detail and reason in detail
