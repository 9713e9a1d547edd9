"""The family account page: invoices and their state, the balance, the band's prices."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Entity
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from facturation import run, tariffs
from facturation.models import BANDS, Unit
from reservations import activities, bookings
from reservations.bookings import Booker, Context
from reservations.models import Channel
from tests.factories import make_service, page_text
from tests.reservations.test_bookings import CALENDAR, make_activity, open_days


def read(client: FlaskClient) -> str:
    """The page's text, French typography's no-break spaces read as spaces."""
    return page_text(client.get("/famille/factures")).replace("\xa0", " ").replace("\u202f", " ")


def zoe_at_the_canteen(session: Session, clock: FrozenClock, family: Account) -> Entity:
    """Zoé, the family's child, booked three September days at a canteen priced from 1
    September (band F: 5.20 EUR a day); the clock on 1 September. Returns the entity."""
    assert family.foyer_id is not None
    zoe = FoyerMember(role=MemberRole.ENFANT, first_name="Zoé", last_name="Test")
    zoe.foyer_id = family.foyer_id
    session.add(zoe)
    service = make_service(session)
    canteen = make_activity(session, service)
    days = open_days(session, canteen, date(2026, 9, 14), date(2026, 9, 18))
    clock.current = datetime(2026, 8, 31, 8, 0, tzinfo=UTC)
    prices = dict(zip(BANDS, (50, 120, 210, 320, 410, 520), strict=True))
    tariffs.set_grid(session, clock, None, canteen.id, Unit.JOUR, prices, date(2026, 9, 1))
    activities.enrol(session, clock, canteen.id, zoe.id, date(2026, 9, 1), date(2027, 7, 3))
    ctx = Context(clock=clock, calendar=CALENDAR)
    for slot in list(days.values())[:3]:
        bookings.book(session, ctx, Booker(None, Channel.FAMILLE, family.foyer_id), zoe.id, slot)
    clock.current = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    entity = session.get(Entity, service.entity_id)
    assert entity is not None
    return entity


def invoiced_september(session: Session, clock: FrozenClock, entity: Entity) -> None:
    """September invoiced on 1 October (due on the 16th)."""
    clock.current = datetime(2026, 10, 1, 5, 0, tzinfo=UTC)
    run.emit_entity(session, clock, entity, date(2026, 9, 1))


def test_a_family_reads_its_invoice_its_balance_and_its_bands_prices(
    family_client: FlaskClient, family: Account, db_session: Session, clock: FrozenClock
) -> None:
    entity = zoe_at_the_canteen(db_session, clock, family)
    page = read(family_client)
    assert "Aucune facture pour l'instant." in page
    assert "la tranche la plus haute (F) s'applique" in page
    assert "Cantine de l'école Jules-Ferry : 5,20 € la journée" in page

    invoiced_september(db_session, clock, entity)
    clock.current = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)  # after the due date
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    foyer.tranche_qf, foyer.qf_valid_until = "B", date(2027, 8, 31)
    db_session.commit()

    page = read(family_client)
    assert "Reste à payer : 15,60 €" in page
    assert re.search(r"septembre 2026 · 15,60 €\s*<span[^>]*>En retard</span>", page)
    assert "Cantine de l'école Jules-Ferry — Zoé : 3 × 5,20 € (la journée) = 15,60 €" in page
    assert "Votre tranche : B (quotient familial valable jusqu'au 31 août 2027)." in page
    assert "Cantine de l'école Jules-Ferry : 1,20 € la journée" in page
