"""The individualised care plan (PAI) through HTTP: a family files it, the school doctor
validates it from the demande's page, the Lilas school's team opens the signed plan, another
school's team gets "not found", and the family sees which team it is shared with and who
read it."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
JAURES = "Groupe scolaire Jean-Jaurès"


def team(session: Session, name: str, school: str) -> Service:
    service = make_service(session)
    service.name, service.school = name, school
    session.commit()
    return service


@pytest.fixture
def medecine(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="medecine-scolaire")
    service.name = "Médecine scolaire"
    db_session.commit()
    publish(db_session, clock, "pai")
    return service


@pytest.fixture
def child(db_session: Session, family: Account) -> FoyerMember:
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    member = FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Test", school=LILAS)
    foyer.members.append(member)
    db_session.commit()
    return member


def post(client: FlaskClient, path: str, data: Mapping[str, object] | None = None) -> int:
    sent = {"csrf_token": csrf_token(client, "/famille/"), **(data or {})}
    return client.post(path, data=sent).status_code


def file_plan(app: Flask, session: Session, client: FlaskClient, child: FoyerMember) -> Document:
    """The family's filing through its pages; the school is left to the child's file."""
    plan = deposit(
        app, session, child.foyer_id, "pai_medical", issued_on=date(2026, 8, 20),
        member_id=child.id, filename="pai.pdf",
    )  # fmt: skip
    started = client.post(
        "/famille/demarches/pai/commencer", data={"csrf_token": csrf_token(client, "/famille/")}
    )
    match = re.search(r"/famille/demandes/(\d+)/formulaire", started.headers["Location"])
    assert match
    demande_id = int(match.group(1))
    form = {"enfant": str(child.id), "ecole": "", "motif_pai": "allergie_alimentaire"}
    assert (
        post(client, f"/famille/demandes/{demande_id}/formulaire", form | {"action": "continuer"})
        == 303
    )
    assert (
        post(client, f"/famille/demandes/{demande_id}/justificatifs", {"partage": [plan.id]}) == 303
    )
    assert post(client, f"/famille/demandes/{demande_id}/deposer") == 303
    return plan


def test_the_doctor_validates_and_only_the_childs_school_team_reads_the_plan(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    family: Account,
    child: FoyerMember,
    medecine: Service,
) -> None:
    lilas = team(db_session, "Équipe des Lilas", LILAS)
    jaures = team(db_session, "Équipe Jean-Jaurès", JAURES)
    catalogue = page_text(family_client.get("/famille/demarches"))
    assert "Projet d'accueil individualisé (PAI)" in catalogue

    plan = file_plan(app, db_session, family_client, child)
    demande = db_session.scalars(select(Demande).where(Demande.foyer_id == family.foyer_id)).one()

    doctor = app.test_client()
    assert sign_in_agent(doctor, make_agent(db_session, clock, medecine)).status_code == 302
    page = f"/agent/demandes/{demande.id}"
    review = page_text(doctor.get(page))
    assert "Examiner le PAI" in review
    assert f"École de l'enfant : « {LILAS} » (lue sur la fiche de l'enfant)." in review
    for act, data in (("prendre", {}), ("terminer", {"decision": "valider"})):
        db_session.expire_all()
        task = open_task(db_session, demande)
        sent = {"csrf_token": csrf_token(doctor, page), "version": task.row_version, **data}
        assert doctor.post(f"{page}/taches/{task.id}/{act}", data=sent).status_code == 303
    db_session.expire_all()
    assert db_session.get(Demande, demande.id).status is DemandeStatus.ACCEPTEE  # type: ignore[union-attr]

    theirs = app.test_client()
    assert sign_in_agent(theirs, make_agent(db_session, clock, lilas)).status_code == 302
    assert "Léa Test" in page_text(theirs.get("/agent/pai"))
    opened = theirs.get(f"/agent/pai/{plan.id}/contenu")
    assert opened.status_code == 200 and opened.mimetype == "application/pdf"

    other = app.test_client()
    assert sign_in_agent(other, make_agent(db_session, clock, jaures)).status_code == 302
    assert "Léa Test" not in page_text(other.get("/agent/pai"))
    assert other.get(f"/agent/pai/{plan.id}/contenu").status_code == 404
    assert other.get(f"/agent/demandes/{demande.id}/documents/{plan.id}/contenu").status_code == 404

    detail = page_text(family_client.get(f"/famille/demandes/{demande.id}"))
    assert "Transmis aux équipes de l'école de votre enfant" in detail
    assert f"Équipe des Lilas ({LILAS}) — jusqu'au 31 août 2027" in detail
    assert "Équipe Jean-Jaurès" not in detail
    reads = page_text(family_client.get(f"/famille/coffre/{plan.id}/consultations"))
    assert "lu par l'équipe de l'école de votre enfant (PAI)" in reads
    assert "Équipe des Lilas" in reads
