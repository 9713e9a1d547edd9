"""Fixtures of the API tests: a client of the crèche service's entity, and its bearer token."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from interop import clients
from tests.web.agent.test_demande import Case, case, petite_enfance  # noqa: F401  (fixtures)

ALL_SCOPES = " ".join(clients.SCOPES)


@dataclass(frozen=True)
class ApiClient:
    client_id: str
    secret: str


def make_client(
    session: Session, clock: FrozenClock, service: Service, scopes: str = ALL_SCOPES
) -> ApiClient:
    new = clients.create_client(
        session, clock, entity_slug=service.entity.slug, name="Logiciel Enfance", scopes=scopes
    )
    return ApiClient(new.client.client_id, new.secret)


def token_for(http: FlaskClient, client: ApiClient, scope: str | None = None) -> str:
    """A bearer token, asked for as a back office does (HTTP Basic at the token endpoint)."""
    basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    answer = http.post(
        "/api/v1/oauth/token", data=data, headers={"Authorization": f"Basic {basic}"}
    )
    assert answer.status_code == 200, answer.data
    token: str = answer.get_json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_client(
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,  # noqa: F811  (the fixture imported above)
) -> ApiClient:
    return make_client(db_session, clock, petite_enfance)


@pytest.fixture
def token(client: FlaskClient, api_client: ApiClient) -> str:
    return token_for(client, api_client)
