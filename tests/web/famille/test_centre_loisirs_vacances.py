"""The holiday-centre registration through HTTP: a family asks for two weeks of the Toussaint
holidays, the agent reads the places left for each week on the demande's page and validates,
and once the registrations job has run the family reads which week was booked and which
was full; the days appear on its bookings page."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures.models import Demande, DemandeStatus
from procedures.working_hours import WorkingCalendar
from reservations import activities, registrations
from reservations.models import Activity, ActivityKind, ActivitySession, CutoffRule
from tests.factories import make_agent, make_service, page_text
from tests.procedures.flows import open_task, publish
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token
from tests.web.conftest import deposit

CODE = "centre_loisirs_vacances"


@pytest.fixture
def scolaire(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="scolaire")
    centre = Activity(
        service_id=service.id, code="loisirs-vacances", name="Accueil de loisirs du Parc",
        kind=ActivityKind.VACANCES, site="Centre de loisirs du Parc",
        cutoff_rule=CutoffRule.JOURS_CALENDAIRES, cutoff_count=7, cutoff_time=time(12, 0),
        capacity=1, price_category="vacances",
    )  # fmt: skip
    db_session.add(centre)
    db_session.flush()
    timetable = activities.Timetable(
        date(2026, 10, 19), date(2026, 10, 30), frozenset(range(5)), time(8, 30), time(17, 30)
    )
    activities.open_sessions(db_session, WorkingCalendar(), centre.id, timetable)
    wednesday = db_session.scalars(
        select(ActivitySession).where(ActivitySession.day == date(2026, 10, 28))
    ).one()
    wednesday.taken = 1  # the second week's only place on Wednesday is taken
    db_session.commit()
    publish(db_session, clock, CODE)
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


def file_registration(
    app: Flask, session: Session, client: FlaskClient, family: Account, child: FoyerMember
) -> int:
    assert family.foyer_id is not None
    record = deposit(app, session, family.foyer_id, "carnet_vaccination", member_id=child.id)
    started = post(client, f"/famille/demarches/{CODE}/commencer")
    match = re.search(r"/famille/demandes/(\d+)/formulaire", started.headers["Location"])  # type: ignore[attr-defined]
    assert match
    demande_id = int(match.group(1))
    form = {
        "enfant": str(child.id), "semaine": "2026-10-20", "nombre_semaines": "2",
        "action": "continuer",
    }  # fmt: skip
    assert post(client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303  # type: ignore[attr-defined]
    shared = {"partage": [record.id]}
    assert post(client, f"/famille/demandes/{demande_id}/justificatifs", shared).status_code == 303  # type: ignore[attr-defined]
    assert post(client, f"/famille/demandes/{demande_id}/deposer").status_code == 303  # type: ignore[attr-defined]
    return demande_id


def test_the_agent_sees_the_places_left_and_the_family_what_was_booked(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    family: Account,
    child: FoyerMember,
    scolaire: Service,
) -> None:
    catalogue = page_text(family_client.get("/famille/demarches"))
    assert "Centre de loisirs pendant les vacances" in catalogue

    demande_id = file_registration(app, db_session, family_client, family, child)

    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, scolaire)).status_code == 302
    page = f"/agent/demandes/{demande_id}"
    review = " ".join(page_text(agent.get(page)).split())
    assert "Places au centre de loisirs" in review
    assert "Accueil de loisirs du Parc, 5 jours ouverts, 1 place restante." in review
    assert "« Accueil de loisirs du Parc » est complet la semaine du 26 octobre 2026." in review
    for act, data in (("prendre", {}), ("terminer", {"decision": "valider"})):
        db_session.expire_all()
        demande = db_session.get(Demande, demande_id)
        assert demande is not None
        task = open_task(db_session, demande)
        sent = {"csrf_token": csrf_token(agent, page), "version": task.row_version, **data}
        assert agent.post(f"{page}/taches/{task.id}/{act}", data=sent).status_code == 303
    db_session.expire_all()
    assert registrations.apply_closed(db_session, clock) == 1

    demande = db_session.get(Demande, demande_id)
    assert demande is not None and demande.status is DemandeStatus.ACCEPTEE
    detail = " ".join(page_text(family_client.get(f"/famille/demandes/{demande_id}")).split())
    assert "Le centre de loisirs a pris en compte votre inscription." in detail
    assert "Semaine du 19 octobre 2026 : 5 jour(s) réservé(s)" in detail
    assert "est complet la semaine du 26 octobre 2026. Cette semaine n'est pas réservée." in detail
    assert "Places au centre de loisirs" not in page_text(agent.get(page))  # closed
    week = page_text(family_client.get("/famille/reservations?semaine=2026-10-19"))
    assert "Accueil de loisirs du Parc" in week
