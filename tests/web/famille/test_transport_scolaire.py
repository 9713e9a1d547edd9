"""School transport through HTTP: a family files it from the catalogue, the school service's
agent validates it from the demande's page, and the family finds its pass and the decision;
a family living near the school reads why it is refused."""

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

LILAS = "Groupe scolaire des Lilas"


@pytest.fixture
def scolaire(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="scolaire")
    service.name = "Affaires scolaires"
    db_session.commit()
    publish(db_session, clock, "transport_scolaire")
    return service


@pytest.fixture
def child(db_session: Session, family: Account) -> FoyerMember:
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    member = FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Test")
    foyer.members.append(member)
    db_session.commit()
    return member


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client, "/famille/"), **(data or {})})


def file_transport(
    app: Flask, session: Session, client: FlaskClient, family: Account, child: FoyerMember
) -> int:
    """The family's whole filing through its pages: start, form, proof of address, submit."""
    assert family.foyer_id is not None
    proof = deposit(app, session, family.foyer_id, issued_on=date(2026, 8, 10))
    started = post(client, "/famille/demarches/transport_scolaire/commencer")
    match = re.search(r"/famille/demandes/(\d+)/formulaire", started.headers["Location"])  # type: ignore[attr-defined]
    assert match
    demande_id = int(match.group(1))
    form = {"enfant": str(child.id), "ecole": LILAS, "arret": "L1-eglise", "action": "continuer"}
    assert post(client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303  # type: ignore[attr-defined]
    shared = {"partage": [proof.id]}
    assert post(client, f"/famille/demandes/{demande_id}/justificatifs", shared).status_code == 303  # type: ignore[attr-defined]
    assert post(client, f"/famille/demandes/{demande_id}/deposer").status_code == 303  # type: ignore[attr-defined]
    return demande_id


def living_at(session: Session, family: Account, address: str) -> None:
    foyer = session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.address_line, foyer.postal_code, foyer.city = address, "33600", "Bellerive"
    session.commit()


def test_a_family_files_it_and_the_agent_validates_it_into_a_pass(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    family: Account,
    child: FoyerMember,
    scolaire: Service,
) -> None:
    living_at(db_session, family, "3 route de Toctoucau")
    catalogue = page_text(family_client.get("/famille/demarches"))
    assert "Transport scolaire" in catalogue and "Arrêt où votre enfant montera" in catalogue

    demande_id = file_transport(app, db_session, family_client, family, child)

    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, scolaire)).status_code == 302
    page = f"/agent/demandes/{demande_id}"
    review = page_text(agent.get(page))
    assert "Valider l'inscription au transport" in review
    assert "Ligne 1 : Toctoucau, place de l'Église" in review
    assert "Distance du domicile à l'école mesurée." in review
    assert "Domicile à 6,4 km de l'école « Groupe scolaire des Lilas »." in review
    for act, data in (("prendre", {}), ("terminer", {"decision": "valider"})):
        demande = db_session.get(Demande, demande_id)
        assert demande is not None
        db_session.expire_all()
        task = open_task(db_session, demande)
        token = csrf_token(agent, page)
        sent = {"csrf_token": token, "version": task.row_version, **data}
        assert agent.post(f"{page}/taches/{task.id}/{act}", data=sent).status_code == 303

    db_session.expire_all()
    demande = db_session.get(Demande, demande_id)
    assert demande is not None and demande.status is DemandeStatus.ACCEPTEE
    card = db_session.scalars(
        select(Document).where(
            Document.foyer_id == family.foyer_id, Document.type_code == "attestation_mairie"
        )
    ).one()
    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Acceptée" in detail and "Documents délivrés par la mairie" in detail
    assert f'href="/famille/coffre/{card.id}/voir"' in detail
    shown = family_client.get(f"/famille/coffre/{card.id}/voir")
    assert shown.status_code == 200


def test_a_family_near_the_school_reads_why_it_is_refused(
    app: Flask,
    db_session: Session,
    family_client: FlaskClient,
    family: Account,
    child: FoyerMember,
    scolaire: Service,
) -> None:
    living_at(db_session, family, "12 rue des Lilas")

    demande_id = file_transport(app, db_session, family_client, family, child)

    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Refusée" in detail
    assert "Votre domicile est à moins de 3 km de l'école" in detail
    assert "Domicile à 0,6 km" not in detail  # the agents' internal line
    # No agent took it: the family is told so, and how to ask for a review (CRPA L311-3-1).
    assert "Cette décision a été prise automatiquement" in detail
    page = family_client.get(f"/famille/demandes/{demande_id}").get_data(as_text=True)
    link = re.search(r'href="(/famille/messages/nouveau\?[^"]+)"', page)
    assert link and f"service={scolaire.id}&amp;demande={demande_id}&amp;" in link.group(1)
    form = family_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f'<option value="{scolaire.id}" selected>' in form
    assert 'value="Réexamen de ma demande"' in form
