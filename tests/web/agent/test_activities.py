"""The activities pages: an agent creates an activity, opens its sessions, closes a day."""

from __future__ import annotations

import re
from datetime import date

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from reservations.models import Activity, ActivitySession, CutoffRule
from tests.factories import make_agent, make_service, page_text
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token

NEW = {
    "nom": "Accueil du mercredi",
    "type": "mercredi",
    "lieu": "Maison de quartier du Port",
    "delai": "2",
    "regle": "semaine_precedente",
    "heure_limite": "12:00",
    "places": "24",
    "categorie": "loisirs",
}


def post(client: FlaskClient, path: str, **fields: object) -> tuple[int, str]:
    data = {"csrf_token": csrf_token(client, "/agent/activites")}
    data |= {k: v if isinstance(v, list) else str(v) for k, v in fields.items()}  # type: ignore[misc]
    response = client.post(path, data=data, follow_redirects=True)
    return response.status_code, page_text(response)


def test_an_agent_creates_an_activity_opens_its_wednesdays_and_closes_one(
    bookings_agent: FlaskClient, bookings_service: Service, db_session: Session
) -> None:
    fields = dict(NEW, age_min="3", age_max="11", facturation="presence")
    status, page = post(bookings_agent, "/agent/activites", service=bookings_service.id, **fields)
    assert status == 200 and "L'activité est créée : ouvrez maintenant ses séances." in page
    activity = db_session.scalars(select(Activity)).one()
    assert (activity.cutoff_rule, activity.cutoff_count, activity.capacity) == (
        CutoffRule.SEMAINE_PRECEDENTE, 2, 24,
    )  # fmt: skip
    assert (activity.min_age, activity.max_age, activity.billing_rule.value) == (3, 11, "presence")

    path = f"/agent/activites/{activity.id}"
    status, page = post(
        bookings_agent, path, action="ouvrir", du="2026-09-01", au="2026-10-31",
        jours=["2"], debut="08:30", fin="18:00",
    )  # fmt: skip
    assert status == 200 and "9 séance(s) ouverte(s)." in page
    status, page = post(bookings_agent, path, action="fermer", jour="2026-09-16", motif="Grève")
    assert status == 200 and "La journée est fermée" in page
    assert re.search(r"mercredi 16 septembre, 08:30–18:00.*?Fermé : Grève", page, re.DOTALL)
    closed = db_session.scalars(
        select(ActivitySession.day).where(ActivitySession.closed_reason.is_not(None))
    ).all()
    assert closed == [date(2026, 9, 16)]
    listed = page_text(bookings_agent.get("/agent/activites"))
    assert "Accueil du mercredi" in listed and "24 places · de 3 à 11 ans" in listed


def test_bad_definitions_and_timetables_are_refused_with_a_reason(
    bookings_agent: FlaskClient, bookings_service: Service, db_session: Session, clock: FrozenClock
) -> None:
    other = make_service(db_session)
    cases = {
        "another service": (dict(NEW, service=other.id), 404, None),
        "no name": (dict(NEW, service=bookings_service.id, nom=" "), 400, "Donnez un nom"),
        "a week day past 6": (
            dict(NEW, service=bookings_service.id, delai="9"),
            400,
            "de 0 (lundi) à 6",
        ),
        "no time": (
            dict(NEW, service=bookings_service.id, heure_limite="midi"),
            400,
            "Une heure est attendue",
        ),
        "an unknown kind": (
            dict(NEW, service=bookings_service.id, type="piscine"),
            400,
            "n'est pas proposée",
        ),
        "ages upside down": (
            dict(NEW, service=bookings_service.id, age_min="11", age_max="3"),
            400,
            "le minimum avant le maximum",
        ),
        "an age of 99": (
            dict(NEW, service=bookings_service.id, age_max="99"),
            400,
            "de 0 à 25 ans",
        ),
    }
    for name, (fields, code, message) in cases.items():
        status, page = post(bookings_agent, "/agent/activites", **fields)
        assert status == code, name
        assert message is None or message in page, name
    assert db_session.scalars(select(Activity)).all() == []

    status, _ = post(bookings_agent, "/agent/activites", service=bookings_service.id, **NEW)
    activity = db_session.scalars(select(Activity)).one()
    path = f"/agent/activites/{activity.id}"
    backwards = post(
        bookings_agent, path, action="ouvrir", du="2026-10-31", au="2026-09-01",
        jours=["2"], debut="08:30", fin="18:00",
    )  # fmt: skip
    no_day = post(
        bookings_agent, path, action="ouvrir", du="2026-09-01", au="2026-09-30",
        debut="08:30", fin="18:00",
    )  # fmt: skip
    no_reason = post(bookings_agent, path, action="fermer", jour="2026-09-16", motif="")
    far = post(
        bookings_agent, path, action="ouvrir", du="9999-12-01", au="9999-12-31",
        jours=["2"], debut="08:30", fin="18:00",
    )  # fmt: skip
    assert far[0] == 400 and "entre 2000 et 2100" in far[1]
    assert backwards[0] == 400 and "La fin de la période précède son début." in backwards[1]
    assert no_day[0] == 400 and "Choisissez au moins un jour" in no_day[1]
    assert no_reason[0] == 400 and "Indiquez pourquoi la journée est fermée" in no_reason[1]
    assert db_session.scalars(select(ActivitySession)).all() == []


def test_another_services_agent_cannot_see_the_activity(
    client: FlaskClient, db_session: Session, clock: FrozenClock, bookings_service: Service
) -> None:
    activity = Activity(
        service_id=bookings_service.id, code="a", name="A", kind="cantine", site="S",
        cutoff_rule=CutoffRule.JOURS_OUVRES, cutoff_count=1,
        cutoff_time=clock.now().time(), price_category="repas",
    )  # fmt: skip
    db_session.add(activity)
    db_session.commit()
    assert sign_in_agent(client, make_agent(db_session, clock)).status_code == 302

    assert client.get(f"/agent/activites/{activity.id}").status_code == 404
    assert "Vos services n'ont encore aucune activité." in page_text(client.get("/agent/activites"))
