"""Attendance through the services: one tap per child, the sheet closed, corrections, CSV."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role, Service
from coffre.clock import FrozenClock
from coffre.models import FoyerMember
from reservations import activities, attendance, bookings
from reservations.attendance import Agent
from reservations.bookings import Booker, Context
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import AttendanceEvent, Channel
from tests.coffre.conftest import make_foyer
from tests.factories import make_account, make_service
from tests.procedures.flows import child_of
from tests.reservations.test_bookings import CALENDAR, make_activity, open_days

MONDAY = date(2026, 9, 14)


@pytest.fixture
def service(db_session: Session) -> Service:
    return make_service(db_session)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, service: Service) -> Agent:
    return Agent(make_account(db_session, clock, Role.AGENT).id, frozenset({service.id}))


@pytest.fixture
def slot(db_session: Session, clock: FrozenClock, service: Service) -> tuple[int, list[int]]:
    """Monday's canteen with two children booked (one with a PAI) and one not booked."""
    activity = make_activity(db_session, service)
    slot_id = open_days(db_session, activity, MONDAY, MONDAY)[MONDAY]
    ctx = Context(clock=clock, calendar=CALENDAR)
    children = []
    for label in ("=Durand", "Martin", "Roux"):
        foyer = make_foyer(db_session, clock, label)
        activities.enrol(db_session, clock, activity.id, child_of(foyer), MONDAY, MONDAY)
        children.append((foyer, child_of(foyer)))
    db_session.commit()
    pai = db_session.get(FoyerMember, children[0][1])
    assert pai is not None
    pai.has_pai, pai.allergies = True, "Arachide"
    for foyer, child in children[:2]:
        bookings.book(db_session, ctx, Booker(None, Channel.FAMILLE, foyer.id), child, slot_id)
    return slot_id, [child for _, child in children]


def test_the_sheet_lists_the_booked_children_with_their_pai(
    db_session: Session, agent: Agent, slot: tuple[int, list[int]]
) -> None:
    sheet = attendance.sheet(db_session, agent, slot[0])

    assert [(row.last_name, row.has_pai, row.allergies) for row in sheet.rows] == [
        ("=Durand", True, "Arachide"),
        ("Martin", False, None),
    ]
    assert sheet.unmarked == 2 and sheet.closed_at is None


def test_a_tap_sent_twice_counts_once_and_the_sheet_closes_when_all_are_marked(
    db_session: Session, clock: FrozenClock, agent: Agent, slot: tuple[int, list[int]]
) -> None:
    session_id, (durand, martin, roux) = slot
    attendance.mark(db_session, clock, agent, session_id, durand, True)
    attendance.mark(db_session, clock, agent, session_id, durand, True)  # back online, resent
    with pytest.raises(BookingRefused, match="Il reste 1 enfant"):
        attendance.close_sheet(db_session, clock, agent, session_id)
    with pytest.raises(BookingNotFound, match="n'est pas réservé"):
        attendance.mark(db_session, clock, agent, session_id, roux, True)
    attendance.mark(db_session, clock, agent, session_id, martin, False)

    attendance.close_sheet(db_session, clock, agent, session_id)

    sheet = attendance.sheet(db_session, agent, session_id)
    assert [row.present for row in sheet.rows] == [True, False]
    assert sheet.closed_at == clock.now()
    actions = db_session.scalars(select(AttendanceEvent.action).order_by(AttendanceEvent.id))
    assert list(actions) == ["present", "absent", "cloture"]


def test_a_closed_sheet_is_changed_only_by_a_correction_with_a_reason(
    db_session: Session, clock: FrozenClock, agent: Agent, slot: tuple[int, list[int]]
) -> None:
    session_id, (durand, martin, _) = slot
    attendance.mark(db_session, clock, agent, session_id, durand, True)
    attendance.mark(db_session, clock, agent, session_id, martin, True)
    attendance.close_sheet(db_session, clock, agent, session_id)

    with pytest.raises(BookingRefused, match="close"):
        attendance.mark(db_session, clock, agent, session_id, martin, False)
    with pytest.raises(BookingRefused, match="motif"):
        attendance.correct(db_session, clock, agent, session_id, martin, False, "  ")
    attendance.correct(db_session, clock, agent, session_id, martin, False, "Parti à 10 h, malade")

    last = db_session.scalars(select(AttendanceEvent).order_by(AttendanceEvent.id.desc())).first()
    assert last is not None
    assert (last.action, last.present, last.reason) == ("correction", False, "Parti à 10 h, malade")
    assert [row.present for row in attendance.sheet(db_session, agent, session_id).rows] == [
        True,
        False,
    ]


def test_another_services_agent_sees_no_sheet(
    db_session: Session, clock: FrozenClock, slot: tuple[int, list[int]]
) -> None:
    outsider = Agent(make_account(db_session, clock, Role.AGENT).id, frozenset({999_999}))

    with pytest.raises(BookingNotFound):
        attendance.sheet(db_session, outsider, slot[0])
    assert attendance.sessions_of_day(db_session, outsider, MONDAY) == []


def test_the_month_export_lists_each_booked_child_and_day_safely(
    db_session: Session, clock: FrozenClock, agent: Agent, slot: tuple[int, list[int]]
) -> None:
    session_id, (durand, _, _) = slot
    attendance.mark(db_session, clock, agent, session_id, durand, True)

    text = attendance.month_csv(db_session, agent, "École Jules-Ferry", 2026, 9)

    assert text.splitlines() == [
        "\ufeffdate;activite;nom;prenom;pai;presence;justifiee;facturee",
        "2026-09-14;Cantine de l'école Jules-Ferry;'=Durand;Lou;oui;present;non;oui",
        "2026-09-14;Cantine de l'école Jules-Ferry;Martin;Lou;non;;non;oui",
    ]
    assert attendance.month_csv(db_session, agent, "École Jules-Ferry", 2026, 10).count("\n") == 1
