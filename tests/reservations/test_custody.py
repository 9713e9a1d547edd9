"""A child shared by two homes: each foyer books its own weeks, and only its own."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.models import FoyerMember, MemberRole
from reservations import activities, bookings, custody
from reservations.bookings import Booker, Context
from reservations.calendar import family_week
from reservations.errors import BookingRefused
from reservations.models import Channel
from tests.coffre.conftest import make_foyer
from tests.factories import make_service
from tests.procedures.flows import child_of
from tests.reservations.test_bookings import CALENDAR, make_activity, open_days

WEEK_A, WEEK_B = date(2026, 9, 14), date(2026, 9, 21)


@pytest.fixture
def ctx(clock: FrozenClock) -> Context:
    return Context(clock=clock, calendar=CALENDAR)


@pytest.fixture
def homes(db_session: Session, clock: FrozenClock) -> dict[str, object]:
    """Jade, with a row in her mother's foyer and in her father's, in the canteen; weeks
    alternate from 14 September, her mother's."""
    mother, father = make_foyer(db_session, clock, "Roux"), make_foyer(db_session, clock, "Petit")
    rows = []
    for foyer in (mother, father):
        jade = FoyerMember(role=MemberRole.ENFANT, first_name="Jade", last_name=foyer.label)
        foyer.members.append(jade)
        db_session.flush()
        rows.append(jade.id)
    service = make_service(db_session)
    activity = make_activity(db_session, service)
    days = open_days(db_session, activity, date(2026, 9, 1), date(2026, 9, 30))
    for row in rows:
        activities.enrol(db_session, clock, activity.id, row, date(2026, 9, 1), date(2027, 7, 3))
    shared = custody.share(db_session, clock, rows[0], rows[1], WEEK_A)
    db_session.commit()
    return {
        "mother": (Booker(None, Channel.FAMILLE, mother.id), rows[0], mother.id),
        "father": (Booker(None, Channel.FAMILLE, father.id), rows[1], father.id),
        "days": days,
        "custody": shared.id,
        "service": service.id,
    }


def test_each_parent_books_its_own_weeks_only(
    db_session: Session, ctx: Context, homes: dict[str, object]
) -> None:
    (mother, jade_m, _), (father, jade_f, _) = homes["mother"], homes["father"]  # type: ignore[misc]
    days: dict[date, int] = homes["days"]  # type: ignore[assignment]

    bookings.book(db_session, ctx, mother, jade_m, days[WEEK_A])
    bookings.book(db_session, ctx, father, jade_f, days[WEEK_B])
    with pytest.raises(BookingRefused) as refused:
        bookings.book(db_session, ctx, father, jade_f, days[WEEK_A + timedelta(days=1)])

    assert str(refused.value) == (
        "Le 15/09/2026, Jade est chez son autre parent : c'est à lui de réserver cette semaine."
    )
    with pytest.raises(BookingRefused):
        bookings.book(db_session, ctx, mother, jade_m, days[WEEK_B])


def test_each_foyer_sees_its_weeks_and_never_the_other_foyers_bookings(
    db_session: Session, ctx: Context, homes: dict[str, object]
) -> None:
    (mother, jade_m, mother_foyer), (_, _, father_foyer) = homes["mother"], homes["father"]  # type: ignore[misc]
    days: dict[date, int] = homes["days"]  # type: ignore[assignment]
    bookings.book(db_session, ctx, mother, jade_m, days[WEEK_A])

    mothers = family_week(db_session, ctx, mother_foyer, WEEK_A)
    fathers = family_week(db_session, ctx, father_foyer, WEEK_A)

    jade_at_mother = next(week for week in mothers if week.first_name == "Jade")
    jade_at_father = next(week for week in fathers if week.first_name == "Jade")
    monday_m = jade_at_mother.activities[0].days[0]
    monday_f = jade_at_father.activities[0].days[0]
    assert (monday_m.state is not None, monday_m.other_home, monday_m.changeable) == (
        True, False, True,
    )  # fmt: skip
    assert (monday_f.state, monday_f.other_home, monday_f.changeable) == (None, True, False)


def test_the_service_moves_the_alternation(
    db_session: Session, clock: FrozenClock, ctx: Context, homes: dict[str, object]
) -> None:
    (_, _, _), (father, jade_f, _) = homes["mother"], homes["father"]  # type: ignore[misc]
    days: dict[date, int] = homes["days"]  # type: ignore[assignment]

    service_ids = frozenset({homes["service"]})
    custody.change_alternation(db_session, clock, service_ids, homes["custody"], WEEK_B)  # type: ignore[arg-type]
    db_session.commit()

    assert bookings.book(db_session, ctx, father, jade_f, days[WEEK_A]).state.value == "reservee"


def test_a_custody_links_two_children_of_two_foyers(
    db_session: Session, clock: FrozenClock, homes: dict[str, object]
) -> None:
    (_, jade_m, _) = homes["mother"]  # type: ignore[misc]
    other = make_foyer(db_session, clock, "Autre")
    lonely = make_foyer(db_session, clock, "Seul")

    with pytest.raises(BookingRefused, match="déjà une garde alternée"):
        custody.share(db_session, clock, jade_m, child_of(other), WEEK_A)
    with pytest.raises(BookingRefused, match="doivent être différents"):
        custody.share(db_session, clock, child_of(lonely), child_of(lonely), WEEK_A)
    with pytest.raises(BookingRefused, match="commence un lundi"):
        custody.share(db_session, clock, child_of(other), child_of(lonely), date(2026, 9, 15))
