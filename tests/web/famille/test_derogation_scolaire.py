"""School outside the catchment area through HTTP: the family picks a reason and is asked only
that reason's proof, reads the commission's date, and the school service's agent records the
commission's decision, whose reason the family reads."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures import tasks
from procedures.models import Demande, DemandeStatus
from tests.factories import make_agent, make_service, page_text
from tests.procedures.flows import open_task, publish
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token
from tests.web.conftest import deposit
from web.runtime import runtime

JAURES = "Groupe scolaire Jean-Jaurès"
EMPLOYER = "Attestation de l'employeur de moins de 3 mois"


@pytest.fixture
def scolaire(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="scolaire")
    service.name = "Affaires scolaires"
    db_session.commit()
    publish(db_session, clock, "derogation_scolaire")
    return service


@pytest.fixture
def child(db_session: Session, family: Account) -> FoyerMember:
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.address_line, foyer.postal_code, foyer.city = "12 rue des Lilas", "33600", "Bellerive"
    member = FoyerMember(role=MemberRole.ENFANT, first_name="Léa", last_name="Test")
    foyer.members.append(member)
    db_session.commit()
    return member


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client, "/famille/"), **(data or {})})


def test_a_family_is_asked_only_its_reason_s_proof_and_reads_the_commission_s_refusal(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    family: Account,
    child: FoyerMember,
    scolaire: Service,
) -> None:
    assert family.foyer_id is not None
    catalogue = page_text(family_client.get("/famille/demarches"))
    assert "Dérogation scolaire" in catalogue
    assert f"{EMPLOYER} (seulement si « Motif de la demande » : Le lieu de travail" in catalogue
    proof = deposit(
        app, db_session, family.foyer_id, "attestation_employeur", issued_on=date(2026, 8, 20)
    )

    started = post(family_client, "/famille/demarches/derogation_scolaire/commencer")
    match = re.search(r"/famille/demandes/(\d+)/formulaire", started.headers["Location"])  # type: ignore[attr-defined]
    assert match
    demande_id = int(match.group(1))
    form = {
        "enfant": str(child.id), "ecole": JAURES, "niveau": "elementaire", "raison": "travail",
        "precisions": "", "action": "continuer",
    }  # fmt: skip
    assert (
        post(family_client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303
    )  # type: ignore[attr-defined]
    documents = page_text(family_client.get(f"/famille/demandes/{demande_id}/justificatifs"))
    assert EMPLOYER in documents
    assert "Attestation de garde" not in documents and "Certificat médical" not in documents
    shared = {"partage": [proof.id]}
    assert (
        post(family_client, f"/famille/demandes/{demande_id}/justificatifs", shared).status_code
        == 303
    )  # type: ignore[attr-defined]
    assert post(family_client, f"/famille/demandes/{demande_id}/deposer").status_code == 303  # type: ignore[attr-defined]
    waiting = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "commission des dérogations scolaires du 24 septembre 2026" in waiting
    assert "École du secteur" not in waiting  # the agents' internal line
    # The next step says when the demande wakes (the commission's morning), not "waiting".
    assert "Votre demande sera reprise le 24 septembre 2026 par le service" in waiting

    clock.current = datetime(2026, 9, 24, 6, 0, tzinfo=UTC)  # the commission's morning
    assert tasks.fire_timers(db_session, runtime(app).engine_context) == 1
    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, scolaire)).status_code == 302
    page = f"/agent/demandes/{demande_id}"
    review = page_text(agent.get(page))
    assert "Enregistrer la décision de la commission" in review
    assert f"École du secteur : Groupe scolaire des Lilas. École demandée : {JAURES}." in review
    assert "Attestation de l'employeur" in review
    reason = "Le lieu de travail indiqué n'est pas dans le secteur de l'école demandée."
    for act, data in (("prendre", {}), ("terminer", {"decision": "refuser", "motif": reason})):
        demande = db_session.get(Demande, demande_id)
        assert demande is not None
        db_session.expire_all()
        task = open_task(db_session, demande)
        sent = {"csrf_token": csrf_token(agent, page), "version": task.row_version, **data}
        assert agent.post(f"{page}/taches/{task.id}/{act}", data=sent).status_code == 303

    db_session.expire_all()
    demande = db_session.get(Demande, demande_id)
    assert demande is not None and demande.status is DemandeStatus.REFUSEE
    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Refusée" in detail and reason in detail
    assert "Décision envoyée à la direction" not in detail  # internal
