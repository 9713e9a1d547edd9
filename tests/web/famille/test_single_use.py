"""A single-use document (a medical certificate) serves one demande: never offered again."""

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
from coffre.models import Document, FoyerMember, Grant, MemberRole
from procedures import catalogue
from procedures.models import Demande, DemandeStatus
from tests.factories import make_service, page_text
from tests.web.conftest import deposit
from tests.web.famille.test_demandes import ask_family, post

USED = "a déjà servi pour une autre demande"


@pytest.fixture
def scolaire(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="scolaire")
    definition, bpmn = catalogue.read_built_in("justificatif_absence")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    return service


@pytest.fixture
def child(db_session: Session, family: Account) -> FoyerMember:
    assert family.foyer_id is not None
    member = FoyerMember(
        foyer_id=family.foyer_id, role=MemberRole.ENFANT, first_name="Léa", last_name="Test"
    )
    db_session.add(member)
    db_session.commit()
    return member


def certificate(app: Flask, session: Session, child: FoyerMember, name: str) -> Document:
    return deposit(
        app, session, child.foyer_id, "certificat_medical",
        issued_on=date(2026, 8, 25), member_id=child.id, filename=name,
    )  # fmt: skip


def draft(client: FlaskClient, child: FoyerMember) -> int:
    """An absence of the child, its form filled in; the documents page comes next."""
    response = post(client, "/famille/demarches/justificatif_absence/commencer")
    match = re.search(r"/famille/demandes/(\d+)/", response.headers["Location"])  # type: ignore[attr-defined]
    assert match
    demande_id = int(match.group(1))
    form = {
        "enfant": str(child.id),
        "date_debut": "2026-08-31",
        "date_fin": "2026-08-31",
        "action": "continuer",
    }
    assert post(client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303  # type: ignore[attr-defined]
    return demande_id


def choose_and_submit(client: FlaskClient, demande_id: int, document_ids: list[int]) -> object:
    path = f"/famille/demandes/{demande_id}"
    assert post(client, f"{path}/justificatifs", {"partage": document_ids}).status_code == 303  # type: ignore[attr-defined]
    return post(client, f"{path}/deposer")


def offered(client: FlaskClient, demande_id: int, page: str = "/justificatifs") -> str:
    return page_text(client.get(f"/famille/demandes/{demande_id}{page}"))


def grants_of(session: Session, demande_id: int) -> list[int]:
    query = select(Grant.document_id).where(Grant.demande_id == demande_id)
    return list(session.scalars(query))


@pytest.mark.usefixtures("scolaire")
def test_a_certificate_sent_with_one_demande_is_not_offered_for_the_next(
    app: Flask, family_client: FlaskClient, db_session: Session, child: FoyerMember
) -> None:
    paper = certificate(app, db_session, child, "certificat-aout.pdf")
    first = draft(family_client, child)
    assert f'value="{paper.id}"' in offered(family_client, first)
    assert choose_and_submit(family_client, first, [paper.id]).status_code == 303  # type: ignore[attr-defined]

    second = draft(family_client, child)
    page = offered(family_client, second)

    assert f'value="{paper.id}"' not in page
    assert "Votre coffre ne contient aucun document valide de ce type." in page


@pytest.mark.usefixtures("scolaire")
def test_a_used_certificate_submitted_anyway_is_refused_in_french_and_nothing_is_shared(
    app: Flask, family_client: FlaskClient, db_session: Session, child: FoyerMember
) -> None:
    paper = certificate(app, db_session, child, "certificat-aout.pdf")
    first = draft(family_client, child)
    choose_and_submit(family_client, first, [paper.id])
    second = draft(family_client, child)

    response = choose_and_submit(family_client, second, [paper.id])  # a hand-made form

    assert response.status_code == 422  # type: ignore[attr-defined]
    text = page_text(response)  # type: ignore[arg-type]
    assert f"Le justificatif « Certificat médical » délivré le 25/08/2026 {USED}" in text
    assert grants_of(db_session, second) == []
    demande = db_session.get(Demande, second)
    assert demande is not None
    db_session.refresh(demande)
    assert demande.status is DemandeStatus.BROUILLON


@pytest.mark.usefixtures("scolaire")
def test_withdrawing_the_consent_and_cancelling_the_demande_do_not_free_the_certificate(
    app: Flask, family_client: FlaskClient, db_session: Session, child: FoyerMember
) -> None:
    paper = certificate(app, db_session, child, "certificat-aout.pdf")
    first = draft(family_client, child)
    choose_and_submit(family_client, first, [paper.id])
    assert (
        post(family_client, f"/famille/demandes/{first}/documents/{paper.id}/retirer").status_code
        == 303
    )  # type: ignore[attr-defined]
    assert post(family_client, f"/famille/demandes/{first}/annuler").status_code == 303  # type: ignore[attr-defined]
    fresh = certificate(app, db_session, child, "certificat-septembre.pdf")

    second = draft(family_client, child)
    page = offered(family_client, second)

    assert f'value="{paper.id}"' not in page and f'value="{fresh.id}"' in page
    assert choose_and_submit(family_client, second, [fresh.id]).status_code == 303  # type: ignore[attr-defined]
    assert grants_of(db_session, second) == [fresh.id]


def test_answering_an_agent_with_a_used_certificate_is_refused_and_it_is_not_offered(
    app: Flask,
    family_client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    child: FoyerMember,
    scolaire: Service,
) -> None:
    paper = certificate(app, db_session, child, "certificat-aout.pdf")
    first = draft(family_client, child)
    choose_and_submit(family_client, first, [paper.id])
    fresh = certificate(app, db_session, child, "certificat-septembre.pdf")
    second = draft(family_client, child)
    choose_and_submit(family_client, second, [fresh.id])
    ask_family(db_session, clock, app, scolaire, second)

    detail = offered(family_client, second, "")
    assert "Répondre au service" in detail and f'id="reponse-{paper.id}"' not in detail
    assert f'id="reponse-{fresh.id}"' in detail

    answer = {"message": "Voici le certificat", "partage": [paper.id]}
    response = post(family_client, f"/famille/demandes/{second}/repondre", answer)

    assert response.status_code == 409  # type: ignore[attr-defined]
    assert "sert qu'à une seule demande" in page_text(response)  # type: ignore[arg-type]
    assert grants_of(db_session, second) == [fresh.id]
