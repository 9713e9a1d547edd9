"""The attendance pages: the day's sessions, the sheet tapped child by child, closed, exported."""

from __future__ import annotations

from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from reservations import activities, bookings
from reservations.bookings import Booker, Context
from reservations.models import Channel
from tests.coffre.conftest import make_foyer
from tests.factories import make_agent, page_text
from tests.procedures.flows import child_of
from tests.reservations.test_bookings import CALENDAR, make_activity, open_days
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token

MONDAY = date(2026, 9, 14)


@pytest.fixture
def slot(db_session: Session, clock: FrozenClock, bookings_service: Service) -> tuple[int, int]:
    """Monday's canteen, Lou Petit booked on it."""
    activity = make_activity(db_session, bookings_service)
    slot_id = open_days(db_session, activity, MONDAY, MONDAY)[MONDAY]
    foyer = make_foyer(db_session, clock, "Petit")
    activities.enrol(db_session, clock, activity.id, child_of(foyer), MONDAY, MONDAY)
    db_session.commit()
    ctx = Context(clock=clock, calendar=CALENDAR)
    bookings.book(
        db_session, ctx, Booker(None, Channel.FAMILLE, foyer.id), child_of(foyer), slot_id
    )
    return slot_id, child_of(foyer)


def post(client: FlaskClient, slot_id: int, **fields: object) -> tuple[int, str]:
    path = f"/agent/presences/{slot_id}"
    data = {"csrf_token": csrf_token(client, path), **{k: str(v) for k, v in fields.items()}}
    response = client.post(path, data=data, follow_redirects=True)
    return response.status_code, page_text(response)


def test_an_agent_takes_attendance_closes_the_sheet_and_exports_the_month(
    bookings_agent: FlaskClient, slot: tuple[int, int]
) -> None:
    slot_id, child = slot
    day = page_text(bookings_agent.get("/agent/presences?jour=2026-09-14"))
    assert "École Jules-Ferry — Cantine de l'école Jules-Ferry" in day
    sheet = page_text(bookings_agent.get(f"/agent/presences/{slot_id}"))
    assert "1 enfant réservé" in sheet and "Petit Lou" in sheet and "Non pointé" in sheet

    status, sheet = post(bookings_agent, slot_id, action="present", enfant=child)
    assert status == 200 and "Présent" in sheet and "Non pointé" not in sheet
    status, sheet = post(bookings_agent, slot_id, action="cloturer")
    assert status == 200 and "La feuille de présence est close et signée." in sheet
    assert "Toute modification demande désormais un motif." in sheet

    refused = post(bookings_agent, slot_id, action="absent", enfant=child, motif="")
    corrected = post(
        bookings_agent, slot_id, action="absent", enfant=child, motif="Erreur de pointage"
    )
    assert refused[0] == 409 and "Indiquez le motif de la correction." in refused[1]
    assert corrected[0] == 200 and "La correction est enregistrée." in corrected[1]

    export = bookings_agent.get("/agent/presences/export.csv?site=École Jules-Ferry&mois=2026-09")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.get_data(as_text=True).splitlines()[1].endswith(";Petit;Lou;non;absent;non;oui")


def test_bad_requests_are_refused(
    bookings_agent: FlaskClient, slot: tuple[int, int], db_session: Session, clock: FrozenClock
) -> None:
    slot_id, child = slot
    stranger = make_foyer(db_session, clock, "Inconnu")

    assert post(bookings_agent, slot_id, action="pointer", enfant=child)[0] == 400
    assert post(bookings_agent, slot_id, action="present", enfant=child_of(stranger))[0] == 404
    assert bookings_agent.get("/agent/presences/999999").status_code == 404
    assert bookings_agent.get("/agent/presences/export.csv?site=X&mois=2026-13").status_code == 400
    assert (
        bookings_agent.post(f"/agent/presences/{slot_id}", data={"action": "cloturer"}).status_code
        == 400
    )


def test_another_services_agent_does_not_see_the_session(
    client: FlaskClient, db_session: Session, clock: FrozenClock, slot: tuple[int, int]
) -> None:
    assert sign_in_agent(client, make_agent(db_session, clock)).status_code == 302

    assert client.get(f"/agent/presences/{slot[0]}").status_code == 404
    assert "Vos services n'ont aucune séance ce jour-là." in page_text(
        client.get("/agent/presences?jour=2026-09-14")
    )
