"""Fixtures of the agents' bookings pages: a service, and one of its agents signed in."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from tests.factories import make_agent, make_service
from tests.web.agents import sign_in_agent


@pytest.fixture
def bookings_service(db_session: Session) -> Service:
    """The service that runs the activities under test."""
    return make_service(db_session)


@pytest.fixture
def bookings_agent(
    client: FlaskClient, db_session: Session, clock: FrozenClock, bookings_service: Service
) -> FlaskClient:
    """The test client, signed in as an agent of `bookings_service`."""
    assert sign_in_agent(client, make_agent(db_session, clock, bookings_service)).status_code == 302
    return client
