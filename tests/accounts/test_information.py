"""The versions of the information shown before sign-up, and who has to accept which."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from accounts import information
from accounts.information import InformationVersion
from accounts.models import Role
from coffre.clock import FrozenClock
from tests.factories import make_account


@pytest.fixture
def version_2(monkeypatch: pytest.MonkeyPatch) -> InformationVersion:
    published = InformationVersion("2", date(2027, 3, 1))
    monkeypatch.setattr(information, "VERSIONS", (*information.VERSIONS, published))
    return published


def test_the_last_published_version_is_in_force(
    db_session: Session, version_2: InformationVersion
) -> None:
    assert information.current(db_session) == version_2
    assert information.find(db_session, "1") == InformationVersion("1", date(2026, 12, 7))
    assert information.find(db_session, "3") is None


def test_only_families_behind_the_version_in_force_must_accept(
    db_session: Session, version_2: InformationVersion
) -> None:
    assert information.must_accept(db_session, Role.FAMILLE, None)
    assert information.must_accept(db_session, Role.FAMILLE, "1")
    assert not information.must_accept(db_session, Role.FAMILLE, "2")
    assert not information.must_accept(db_session, Role.AGENT, None)
    assert not information.must_accept(db_session, Role.ADMIN, "1")


def test_a_family_accepts_the_version_in_force_and_when(
    db_session: Session, clock: FrozenClock, version_2: InformationVersion
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)

    with pytest.raises(information.UnknownVersion):
        information.accept(db_session, clock, family.id, "1")  # read before version 2
    accepted = information.accept(db_session, clock, family.id, "2")

    assert (accepted.information_version, accepted.information_accepted_at) == ("2", clock.now())


def test_an_agent_accepts_nothing(db_session: Session, clock: FrozenClock) -> None:
    agent = make_account(db_session, clock, Role.AGENT)

    with pytest.raises(information.NotAFamily):
        information.accept(db_session, clock, agent.id, information.in_force_identifier(db_session))
    assert agent.information_version is None
