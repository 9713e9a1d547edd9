"""The API's foyers, registrations, bookings, invoices and payments: scoped to the entity."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from tests.factories import make_service
from tests.web.agent.test_demande import Case
from tests.web.api.conftest import ApiClient, bearer, make_client, token_for


def test_the_foyer_of_a_demande_is_known_with_its_members(
    client: FlaskClient, case: Case, token: str
) -> None:
    listed = client.get("/api/v1/foyers", headers=bearer(token)).get_json()
    foyer_id = listed["items"][0]["id"]
    one = client.get(f"/api/v1/foyers/{foyer_id}", headers=bearer(token)).get_json()

    assert [item["label"] for item in listed["items"]] == ["Famille Lambert"]
    assert {(m["first_name"], m["role"]) for m in one["members"]} >= {("Léa", "enfant")}
    assert case.family.email in one["emails"]


def test_another_entity_knows_no_foyer(
    client: FlaskClient, db_session: Session, clock: FrozenClock, case: Case, token: str
) -> None:
    foyer_id = client.get("/api/v1/foyers", headers=bearer(token)).get_json()["items"][0]["id"]
    other = token_for(client, make_client(db_session, clock, make_service(db_session)))

    assert client.get("/api/v1/foyers", headers=bearer(other)).get_json()["items"] == []
    assert client.get(f"/api/v1/foyers/{foyer_id}", headers=bearer(other)).status_code == 404


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/api/v1/inscriptions", "reservations:read"),
        ("/api/v1/reservations", "reservations:read"),
        ("/api/v1/factures", "facturation:read"),
        ("/api/v1/paiements", "facturation:read"),
    ],
)
def test_each_list_needs_its_own_scope(
    client: FlaskClient, case: Case, api_client: ApiClient, path: str, scope: str
) -> None:
    allowed = token_for(client, api_client, scope=scope)
    other = token_for(client, api_client, scope="demandes:read")

    answer = client.get(path, headers=bearer(allowed))
    assert answer.status_code == 200
    assert answer.get_json() == {"items": [], "next_cursor": None}
    assert client.get(path, headers=bearer(other)).status_code == 403
