"""The family's bookings page: a week per child, booking and cancelling through the forms."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Account
from coffre.clock import FrozenClock
from coffre.models import FoyerMember, MemberRole
from procedures.models import Demande
from reservations import activities
from reservations.models import Booking, BookingState
from tests.coffre.conftest import make_foyer
from tests.factories import make_service, page_text
from tests.procedures.flows import child_of, publish
from tests.reservations.test_bookings import make_activity, open_days
from tests.web.auth.test_login import csrf_token

WEEK = "2026-09-14"
MONDAY = date(2026, 9, 14)


@pytest.fixture
def canteen(db_session: Session, clock: FrozenClock, family: Account) -> dict[str, int]:
    """Zoé, the family's child, enrolled in the canteen of September; another foyer's child."""
    zoe = FoyerMember(role=MemberRole.ENFANT, first_name="Zoé", last_name="Test")
    zoe.foyer_id = family.foyer_id or 0
    db_session.add(zoe)
    activity = make_activity(db_session, make_service(db_session))
    days = open_days(db_session, activity, date(2026, 9, 1), date(2026, 9, 30))
    activities.enrol(db_session, clock, activity.id, zoe.id, date(2026, 9, 1), date(2027, 7, 3))
    other = make_foyer(db_session, clock, "Autre")
    db_session.commit()
    return {"zoe": zoe.id, "monday": days[MONDAY], "other_child": child_of(other)}


def change(client: FlaskClient, **fields: object) -> tuple[int, str]:
    token = csrf_token(client, f"/famille/reservations?semaine={WEEK}")
    data = {
        "csrf_token": token,
        "semaine": WEEK,
        **{k: v if isinstance(v, list) else str(v) for k, v in fields.items()},
    }
    response = client.post("/famille/reservations", data=data, follow_redirects=True)
    return response.status_code, page_text(response)


def test_a_family_sees_its_childs_week_and_books_a_day(
    family_client: FlaskClient, canteen: dict[str, int], db_session: Session
) -> None:
    page = page_text(family_client.get(f"/famille/reservations?semaine={WEEK}"))
    assert "Semaine du 14 septembre au 20 septembre 2026" in page
    assert "Zoé" in page and "Cantine de l'école Jules-Ferry" in page
    assert "Modifiable jusqu'au vendredi 11 septembre, 10:00" in page  # Monday's cut-off

    status, page = change(
        family_client, action="reserver", enfant=canteen["zoe"], seance=canteen["monday"]
    )

    assert status == 200 and "La journée est réservée." in page
    monday = re.search(r"lundi 14 septembre</strong>.*?</li>", page, re.DOTALL)
    assert monday and "Réservé" in monday.group(0) and "Annuler" in monday.group(0)
    booking = db_session.scalars(select(Booking)).one()
    assert (booking.member_id, booking.state) == (canteen["zoe"], BookingState.RESERVEE)

    status, page = change(family_client, action="annuler", reservation=booking.id)
    assert status == 200 and "La réservation est annulée." in page
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).state is BookingState.ANNULEE  # type: ignore[union-attr]


def test_bad_changes_are_refused_with_a_reason_and_write_nothing(
    family_client: FlaskClient, canteen: dict[str, int], clock: FrozenClock, db_session: Session
) -> None:
    other = change(
        family_client, action="reserver", enfant=canteen["other_child"], seance=canteen["monday"]
    )
    forged = change(
        family_client, action="supprimer", enfant=canteen["zoe"], seance=canteen["monday"]
    )
    garbled = change(family_client, action="reserver", enfant="deux", seance=canteen["monday"])
    huge = change(family_client, action="reserver", enfant=canteen["zoe"], seance="9" * 30)
    clock.current = clock.current.replace(month=9, day=14, hour=12)  # Monday noon: too late
    late = change(family_client, action="reserver", enfant=canteen["zoe"], seance=canteen["monday"])
    no_token = family_client.post(
        "/famille/reservations",
        data={"action": "reserver", "enfant": canteen["zoe"], "seance": canteen["monday"]},
    )

    assert other[0] == 404 and "Cet enfant n'est pas dans votre foyer." in other[1]
    assert forged[0] == 404 and "Cette modification n'est pas proposée par la page." in forged[1]
    assert garbled[0] == 404 and huge[0] == 404
    assert late[0] == 409
    assert (
        "La séance du 14/09/2026 ne peut plus être modifiée depuis le 11/09/2026 à 10:00."
        in late[1]
    )
    assert no_token.status_code == 400
    assert db_session.scalar(select(func.count(Booking.id))) == 0


def test_the_page_says_when_no_child_is_registered(family_client: FlaskClient) -> None:
    page = page_text(family_client.get("/famille/reservations?semaine=pas-une-date"))

    assert "Aucun de vos enfants n'est inscrit à une activité cette semaine." in page
    assert "Semaine du 31 août au 6 septembre 2026" in page  # this week, on the app's clock


def test_a_family_books_every_monday_and_thursday_of_the_month(
    family_client: FlaskClient, canteen: dict[str, int], db_session: Session
) -> None:
    page = page_text(family_client.get(f"/famille/reservations?semaine={WEEK}"))
    activity = re.search(r'name="activite" value="(\d+)"', page)
    assert activity and "Réserver chaque semaine" in page

    status, page = change(
        family_client, action="semaines", enfant=canteen["zoe"], activite=activity.group(1),
        jours=["0", "3"], jusqu_au="2026-09-30",
    )  # fmt: skip

    assert status == 200 and "8 journées réservées." in page
    days = db_session.scalars(select(Booking.session_id)).all()
    assert len(days) == 8
    forged = change(
        family_client, action="semaines", enfant=canteen["zoe"], activite=activity.group(1),
        jours=["8"], jusqu_au="2026-09-30",
    )  # fmt: skip
    no_end = change(
        family_client, action="semaines", enfant=canteen["zoe"], activite=activity.group(1),
        jours=["0"], jusqu_au="",
    )  # fmt: skip
    assert forged[0] == 404
    assert no_end[0] == 409 and "Indiquez le dernier jour à réserver" in no_end[1]


def test_the_month_view_shows_each_days_state_and_leads_to_its_week(
    family_client: FlaskClient, canteen: dict[str, int]
) -> None:
    change(family_client, action="reserver", enfant=canteen["zoe"], seance=canteen["monday"])

    page = page_text(family_client.get("/famille/reservations/mois?mois=2026-09"))

    assert "Septembre 2026" in page
    monday = re.search(r'href="([^"]+)">lun\. 14</a>\s*<span[^>]*>([^<]+)</span>', page)
    assert monday and monday.group(2) == "Réservé"
    assert monday.group(1).startswith("/famille/reservations?semaine=2026-09-14#jour-")
    assert page.count(">Non réservé<") == 21  # the other school days of September
    october = page_text(family_client.get("/famille/reservations/mois?mois=2026-10"))
    assert "Aucune séance ce mois-ci." in october
    for wrong in ("septembre", "0001-01", "9999-12"):
        assert family_client.get(f"/famille/reservations/mois?mois={wrong}").status_code == 200
    for wrong in ("0001-01-01", "9999-12-31"):
        assert family_client.get(f"/famille/reservations?semaine={wrong}").status_code == 200


def test_a_booked_day_past_its_cut_off_leads_to_justifying_the_absence(
    family_client: FlaskClient, canteen: dict[str, int], clock: FrozenClock, db_session: Session
) -> None:
    make_service(db_session, code="scolaire")
    publish(db_session, clock, "justificatif_absence")
    change(family_client, action="reserver", enfant=canteen["zoe"], seance=canteen["monday"])
    page = page_text(family_client.get(f"/famille/reservations?semaine={WEEK}"))
    assert "Justifier l'absence" not in page  # still time to cancel instead

    clock.current = datetime(2026, 9, 14, 6, 0, tzinfo=UTC)  # Monday morning: Zoé is ill
    page = page_text(family_client.get(f"/famille/reservations?semaine={WEEK}"))
    assert page.count("Malade ? Justifier l'absence") == 1  # the booked day only
    token = csrf_token(family_client, f"/famille/reservations?semaine={WEEK}")
    fields = {"csrf_token": token, "semaine": WEEK, "enfant": str(canteen["zoe"])}
    started = family_client.post("/famille/reservations/absence", data=fields | {"jour": WEEK})
    again = family_client.post("/famille/reservations/absence", data=fields | {"jour": WEEK})

    draft = db_session.scalars(select(Demande)).one()
    assert started.status_code == again.status_code == 303  # a double click: one draft
    assert started.headers["Location"].endswith(f"/famille/demandes/{draft.id}/formulaire")
    assert again.headers["Location"] == started.headers["Location"]
    form = family_client.get(started.headers["Location"]).get_data(as_text=True)
    assert form.count('value="2026-09-14"') == 2  # first and last day of the absence
    assert re.search(rf'value="{canteen["zoe"]}"\s+selected', form)
    forged = [
        fields | {"enfant": str(canteen["other_child"]), "jour": WEEK},
        fields | {"jour": "14/09/2026"},
        fields | {"jour": "9999-01-01"},
    ]
    for data in forged:
        assert family_client.post("/famille/reservations/absence", data=data).status_code == 404
    assert db_session.scalar(select(func.count(Demande.id))) == 1
