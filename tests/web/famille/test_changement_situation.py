"""A change of situation through HTTP: a family with a bus registration under way declares
its move from the catalogue, the agent reads what it will update and applies it, and the
family reads which demande was updated, sees it on that demande and in its household file."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from coffre.models import FoyerMember
from procedures.models import Demande, DemandeStatus
from tests.factories import make_agent, page_text
from tests.procedures.flows import open_task, publish
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token
from tests.web.conftest import deposit
from tests.web.famille.test_transport_scolaire import child, file_transport, living_at, post
from tests.web.famille.test_transport_scolaire import scolaire as transport_service

__all__ = ["child", "transport_service"]  # fixtures


@pytest.fixture
def scolaire(db_session: Session, clock: FrozenClock, transport_service: Service) -> Service:
    publish(db_session, clock, "changement_situation")
    return transport_service


def declare_move(app: Flask, session: Session, client: FlaskClient, family: Account) -> int:
    """The family's pages: start, the new address, the proof of it, submit."""
    assert family.foyer_id is not None
    proof = deposit(app, session, family.foyer_id, issued_on=date(2026, 8, 25))
    started = post(client, "/famille/demarches/changement_situation/commencer")
    match = re.search(r"/famille/demandes/(\d+)/formulaire", started.headers["Location"])  # type: ignore[attr-defined]
    assert match
    demande_id = int(match.group(1))
    form = {
        "changement": "adresse",
        "adresse": "27 avenue de la Gare",
        "code_postal": "33600",
        "ville": "Bellerive",
        "action": "continuer",
    }
    assert post(client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303  # type: ignore[attr-defined]
    shared = {"partage": [proof.id]}
    assert post(client, f"/famille/demandes/{demande_id}/justificatifs", shared).status_code == 303  # type: ignore[attr-defined]
    assert post(client, f"/famille/demandes/{demande_id}/deposer").status_code == 303  # type: ignore[attr-defined]
    return demande_id


def test_a_move_is_checked_once_and_the_family_reads_what_was_updated(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    family: Account,
    child: FoyerMember,
    scolaire: Service,
) -> None:
    living_at(db_session, family, "3 route de Toctoucau")
    bus = file_transport(app, db_session, family_client, family, child)
    bus_number = db_session.get(Demande, bus).number  # type: ignore[union-attr]
    catalogue = page_text(family_client.get("/famille/demarches"))
    assert "Changement de situation" in catalogue

    demande_id = declare_move(app, db_session, family_client, family)

    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, scolaire)).status_code == 302
    page = f"/agent/demandes/{demande_id}"
    review = page_text(agent.get(page))
    assert "Vérifier le changement de situation" in review
    assert "Changement de situation lu : ce qu'il mettra à jour." in review
    assert f"la demande {bus_number} (Transport scolaire), en cours" in review
    for act, data in (("prendre", {}), ("terminer", {"decision": "appliquer"})):
        db_session.expire_all()
        demande = db_session.get(Demande, demande_id)
        assert demande is not None
        task = open_task(db_session, demande)
        sent = {"csrf_token": csrf_token(agent, page), "version": task.row_version, **data}
        assert agent.post(f"{page}/taches/{task.id}/{act}", data=sent).status_code == 303

    db_session.expire_all()
    demande = db_session.get(Demande, demande_id)
    assert demande is not None and demande.status is DemandeStatus.ACCEPTEE
    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Acceptée" in detail
    assert "Votre nouvelle adresse est enregistrée dans votre dossier famille" in detail
    assert f"la demande {bus_number} (Transport scolaire), en cours au service" in detail
    carried = page_text(family_client.get(f"/famille/demandes/{bus}"))
    assert "Votre changement de situation a été reporté sur cette demande." in carried
    household = family_client.get("/famille/foyer").get_data(as_text=True)
    assert 'value="27 avenue de la Gare"' in household


def test_the_form_asks_only_what_the_chosen_change_needs(
    family_client: FlaskClient, family: Account, scolaire: Service
) -> None:
    started = post(family_client, "/famille/demarches/changement_situation/commencer")
    form_page = started.headers["Location"]  # type: ignore[attr-defined]
    shown = family_client.get(form_page).get_data(as_text=True)
    assert 'data-visible-when="changement" data-visible-values="[&#34;adresse&#34;]"' in shown
    assert "À remplir seulement si vous avez répondu : Nous déménageons : nouvelle adresse." in (
        shown
    )

    # A move without its address: the recap names what is missing, and only that...
    moving = {"changement": "adresse", "telephone": "06 12 34 56 78", "action": "continuer"}
    assert post(family_client, form_page, moving).status_code == 303  # type: ignore[attr-defined]
    recap = page_text(family_client.get(form_page.replace("formulaire", "recapitulatif")))
    assert "« Nouvelle adresse (numéro et rue) » est à renseigner." in recap
    assert "Nouveau numéro de téléphone" not in recap  # not asked for a move

    # ...a new number needs the number only, and what was typed for a move is not shown.
    calling = {"changement": "telephone", "telephone": "06 12 34 56 78", "adresse": "ailleurs"}
    assert post(family_client, form_page, calling | {"action": "continuer"}).status_code == 303  # type: ignore[attr-defined]
    recap = page_text(family_client.get(form_page.replace("formulaire", "recapitulatif")))
    assert "est à renseigner" not in recap
    assert "06 12 34 56 78" in recap and "ailleurs" not in recap
