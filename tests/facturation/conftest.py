"""Fixtures of the billing tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from accounts.models import Role
from coffre.clock import FrozenClock
from facturation.models import Unit
from reservations.attendance import Agent
from tests.factories import make_account, make_service
from tests.facturation.scene import END, SEPTEMBER, Town, grid
from tests.reservations.test_bookings import make_activity, open_days


@pytest.fixture
def town(db_session: Session, clock: FrozenClock) -> Town:
    service = make_service(db_session)
    canteen = make_activity(db_session, service)
    days = open_days(db_session, canteen, SEPTEMBER, END)
    grid(db_session, clock, canteen, Unit.JOUR)
    staff = Agent(make_account(db_session, clock, Role.AGENT).id, frozenset({service.id}))
    db_session.commit()
    return Town(db_session, clock, service, canteen, days, staff)
