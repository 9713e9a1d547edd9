"""The shared-custody page: the service sees its children shared by two homes, moves the
alternation, and nothing of another service's."""

from __future__ import annotations

from datetime import date

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import FoyerMember, MemberRole
from reservations import activities, custody
from reservations.models import SharedCustody
from tests.coffre.conftest import make_foyer
from tests.factories import make_service, page_text
from tests.reservations.test_bookings import make_activity
from tests.web.agent.test_activities import post


def shared_child(session: Session, clock: FrozenClock, service: Service) -> int:
    """Jade, enrolled in the service's canteen by her mother's foyer, shared with her father's."""
    rows = []
    for label in ("Roux", "Petit"):
        foyer = make_foyer(session, clock, label)
        jade = FoyerMember(role=MemberRole.ENFANT, first_name="Jade", last_name=label)
        foyer.members.append(jade)
        session.flush()
        rows.append(jade.id)
    canteen = make_activity(session, service)
    activities.enrol(session, clock, canteen.id, rows[0], date(2026, 9, 1), date(2027, 7, 3))
    shared = custody.share(session, clock, rows[0], rows[1], date(2026, 9, 14))
    session.commit()
    return shared.id


def test_the_service_moves_a_childs_alternation(
    bookings_agent: FlaskClient, bookings_service: Service, db_session: Session, clock: FrozenClock
) -> None:
    custody_id = shared_child(db_session, clock, bookings_service)
    page = page_text(bookings_agent.get("/agent/gardes"))
    assert "Jade Roux" in page and "second foyer : Jade Petit" in page
    assert "à partir du lundi 14 septembre 2026" in page

    status, page = post(bookings_agent, f"/agent/gardes/{custody_id}", premier_lundi="2026-09-21")

    assert status == 200 and "L'alternance est modifiée" in page
    db_session.expire_all()
    assert db_session.get(SharedCustody, custody_id).first_monday == date(2026, 9, 21)  # type: ignore[union-attr]
    for bad, reason in (
        ("2026-09-22", "L'alternance commence un lundi."),
        ("lundi", "Une date est attendue."),
    ):
        status, page = post(bookings_agent, f"/agent/gardes/{custody_id}", premier_lundi=bad)
        assert (status, reason in page) == (400, True)
    db_session.expire_all()
    assert db_session.get(SharedCustody, custody_id).first_monday == date(2026, 9, 21)  # type: ignore[union-attr]


def test_another_services_custodies_stay_out_of_sight(
    bookings_agent: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    custody_id = shared_child(db_session, clock, make_service(db_session))

    assert "Jade" not in page_text(bookings_agent.get("/agent/gardes"))
    status, _ = post(bookings_agent, f"/agent/gardes/{custody_id}", premier_lundi="2026-09-21")
    assert status == 404
