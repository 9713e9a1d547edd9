"""The tariffs page: an entity's administrator sets a new grid for its activities only."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from facturation.models import Tariff, Unit
from tests.factories import page_text
from tests.reservations.test_bookings import make_activity
from tests.web.admin.test_organisation import signed_in
from tests.web.auth.test_login import csrf_token

PRICES = {"A": "0,65", "B": "1,30", "C": "2,15", "D": "3,10", "E": "3,95", "F": "4,80"}


def post(client: FlaskClient, activity_id: int, **fields: str) -> tuple[int, str]:
    data = {"csrf_token": csrf_token(client, "/admin/tarifs"), **fields}
    response = client.post(f"/admin/tarifs/{activity_id}", data=data, follow_redirects=True)
    return response.status_code, page_text(response).replace("\xa0", " ")


def test_an_administrator_sets_a_grid_from_a_day_to_come_for_its_own_activities(
    app: Flask,
    ville_admin: Account,
    ville: Service,
    partner: Service,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    canteen, elsewhere = make_activity(db_session, ville), make_activity(db_session, partner)
    db_session.commit()
    clock.current = datetime(2026, 8, 20, 8, 0, tzinfo=UTC)
    client = signed_in(app, ville_admin)
    assert "Aucune grille en vigueur" in page_text(client.get("/admin/tarifs"))
    prices = {f"prix_{band}": price for band, price in PRICES.items()}

    bad = [
        post(client, canteen.id, unite="jour", du="2026-08-20", **prices),  # today: the past
        post(client, canteen.id, unite="jour", du="2026-09-01", **prices | {"prix_C": "2,155"}),
        post(client, canteen.id, unite="semaine", du="2026-09-01", **prices),
    ]
    status, page = post(client, canteen.id, unite="jour", du="2026-09-01", **prices)
    other = post(client, elsewhere.id, unite="jour", du="2026-09-01", **prices)

    assert [code for code, _ in bad] == [400, 400, 400]
    assert "à partir de demain au plus tôt" in bad[0][1]
    assert "au plus deux décimales" in bad[1][1]
    assert status == 200 and "La nouvelle grille s'applique à partir du 01/09/2026." in page
    assert "À partir du 1 septembre 2026 : A 0,65 € · B 1,30 €" in page
    assert other[0] == 404  # another entity's activity
    rows = db_session.scalars(select(Tariff).order_by(Tariff.band)).all()
    assert [(t.activity_id, t.band, t.unit, t.price_cents, t.valid_from) for t in rows][:2] == [
        (canteen.id, "A", Unit.JOUR, 65, date(2026, 9, 1)),
        (canteen.id, "B", Unit.JOUR, 130, date(2026, 9, 1)),
    ]
    assert len(rows) == 6 and {t.created_by for t in rows} == {ville_admin.id}
    clock.current = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)  # the grid is in force
    later = page_text(signed_in(app, ville_admin).get("/admin/tarifs")).replace("\xa0", " ")
    assert "4,80 € la journée" in later and "Aucune grille en vigueur" not in later
    assert later.count("<summary>") == 1  # the partner's canteen is not listed
