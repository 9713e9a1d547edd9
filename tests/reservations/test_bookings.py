"""Bookings through the services: the cut-off, the waiting list, refusals, and capacity."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.db import make_session_factory
from coffre.models import Foyer, FoyerMember
from coffre.vault import Vault
from notifications.models import OutboxMessage
from procedures.working_hours import WorkingCalendar
from reservations import activities, bookings
from reservations.bookings import Booker, Context
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import (
    Activity,
    ActivityKind,
    ActivitySession,
    Booking,
    BookingEvent,
    BookingState,
    Channel,
    CutoffRule,
    Enrolment,
)
from tests.coffre.conftest import make_foyer
from tests.factories import make_account, make_service
from tests.procedures.flows import child_of
from worker.jobs import register_standard_jobs
from worker.loop import Worker

CALENDAR = WorkingCalendar()
CALENDAR_ZONE = ZoneInfo(CALENDAR.timezone)
MONDAY = date(2026, 9, 14)


def make_activity(
    session: Session,
    service: Service,
    *,
    kind: ActivityKind = ActivityKind.CANTINE,
    rule: CutoffRule = CutoffRule.JOURS_OUVRES,
    count: int = 1,
    capacity: int | None = None,
) -> Activity:
    activity = Activity(
        service_id=service.id,
        code=f"{kind.value}-{service.id}-{rule.value}",
        name="Cantine de l'école Jules-Ferry",
        kind=kind,
        site="École Jules-Ferry",
        cutoff_rule=rule,
        cutoff_count=count,
        cutoff_time=time(10, 0),
        capacity=capacity,
        price_category="repas",
    )
    session.add(activity)
    session.flush()
    return activity


def open_days(session: Session, activity: Activity, first: date, last: date) -> dict[date, int]:
    timetable = activities.Timetable(first, last, frozenset(range(5)), time(11, 45), time(13, 30))
    activities.open_sessions(session, CALENDAR, activity.id, timetable)
    rows = session.scalars(
        select(ActivitySession).where(ActivitySession.activity_id == activity.id)
    )
    return {row.day: row.id for row in rows}


HOLIDAY = date(2026, 10, 19)  # a Monday of the autumn holidays


def holiday_day(session: Session, capacity: int) -> tuple[Activity, int]:
    """A leisure centre's day of the holidays with `capacity` places, and its session."""
    activity = make_activity(
        session, make_service(session), kind=ActivityKind.VACANCES,
        rule=CutoffRule.JOURS_CALENDAIRES, count=1, capacity=capacity,
    )  # fmt: skip
    return activity, open_days(session, activity, HOLIDAY, HOLIDAY)[HOLIDAY]


def family(session: Session, clock: FrozenClock, foyer: Foyer) -> tuple[Account, Booker]:
    account = make_account(session, clock, Role.FAMILLE, foyer_id=foyer.id)
    return account, Booker(account.id, Channel.FAMILLE, foyer.id)


@pytest.fixture
def ctx(clock: FrozenClock) -> Context:
    return Context(clock=clock, calendar=CALENDAR, base_url="https://portail.bellerive.example")


@pytest.fixture
def canteen(db_session: Session, clock: FrozenClock, foyer: Foyer) -> dict[date, int]:
    """The canteen of September 2026, Lou Martin enrolled for the school year."""
    activity = make_activity(db_session, make_service(db_session))
    days = open_days(db_session, activity, date(2026, 9, 1), date(2026, 9, 30))
    activities.enrol(
        db_session, clock, activity.id, child_of(foyer), date(2026, 9, 1), date(2027, 7, 3)
    )
    db_session.commit()
    return days


def events(session: Session) -> list[tuple[str, Channel]]:
    rows = session.execute(
        select(BookingEvent.action, BookingEvent.channel).order_by(BookingEvent.id)
    )
    return [(action, channel) for action, channel in rows]


def test_a_family_books_a_day_once_however_often_it_clicks(
    db_session: Session, clock: FrozenClock, ctx: Context, foyer: Foyer, canteen: dict[date, int]
) -> None:
    _, booker = family(db_session, clock, foyer)

    first = bookings.book(db_session, ctx, booker, child_of(foyer), canteen[MONDAY])
    again = bookings.book(db_session, ctx, booker, child_of(foyer), canteen[MONDAY])

    assert first.id == again.id and again.state is BookingState.RESERVEE
    assert db_session.get(ActivitySession, canteen[MONDAY]).taken == 1  # type: ignore[union-attr]
    assert events(db_session) == [("reservee", Channel.FAMILLE)]


def test_monday_can_be_changed_until_friday_ten_o_clock(
    db_session: Session, clock: FrozenClock, ctx: Context, foyer: Foyer, canteen: dict[date, int]
) -> None:
    _, booker = family(db_session, clock, foyer)
    clock.current = datetime(2026, 9, 11, 7, 59, tzinfo=UTC)  # Friday 09:59 in Paris
    booking = bookings.book(db_session, ctx, booker, child_of(foyer), canteen[MONDAY])
    clock.advance(timedelta(minutes=2))  # 10:01

    with pytest.raises(BookingRefused) as refused:
        bookings.cancel(db_session, ctx, booker, booking.id)

    assert str(refused.value) == (
        "La séance du 14/09/2026 ne peut plus être modifiée depuis le 11/09/2026 à 10:00."
    )
    assert db_session.get(Booking, booking.id).state is BookingState.RESERVEE  # type: ignore[union-attr]


def test_cutoffs_skip_public_holidays_and_follow_each_rule(
    db_session: Session, ctx: Context
) -> None:
    service = make_service(db_session)
    day_after_armistice = date(2026, 11, 12)  # Thursday; Wednesday 11 November is a holiday
    working = make_activity(db_session, service, count=1)
    weekly = make_activity(db_session, service, rule=CutoffRule.SEMAINE_PRECEDENTE, count=2)
    holidays = make_activity(db_session, service, rule=CutoffRule.JOURS_CALENDAIRES, count=21)

    def local(activity: Activity, day: date) -> str:
        slot = ActivitySession(activity=activity, day=day, starts_at=time(8), ends_at=time(9))
        limit = bookings.change_deadline(ctx, slot)
        return limit.astimezone(CALENDAR_ZONE).strftime("%a %d/%m %H:%M")

    assert local(working, day_after_armistice) == "Tue 10/11 10:00"
    assert local(working, MONDAY) == "Fri 11/09 10:00"
    assert local(weekly, MONDAY) == "Wed 09/09 10:00"  # Wednesday of the week before
    assert local(weekly, MONDAY + timedelta(days=4)) == "Wed 09/09 10:00"
    assert local(holidays, date(2026, 10, 19)) == "Mon 28/09 10:00"


def test_a_full_session_puts_families_on_a_waiting_list_and_a_freed_place_is_offered(
    db_session: Session, clock: FrozenClock, ctx: Context
) -> None:
    activity, slot = holiday_day(db_session, capacity=1)
    families = []
    for label in ("Martin", "Nguyen", "Benali"):
        foyer = make_foyer(db_session, clock, label)
        activities.enrol(
            db_session, clock, activity.id, child_of(foyer), HOLIDAY, date(2026, 10, 30)
        )
        families.append((foyer, *family(db_session, clock, foyer)))
    db_session.commit()
    (martin, _, by_martin), (nguyen, nguyen_account, by_nguyen), (benali, _, by_benali) = families

    held = bookings.book(db_session, ctx, by_martin, child_of(martin), slot)
    clock.advance(timedelta(minutes=1))
    second = bookings.book(db_session, ctx, by_nguyen, child_of(nguyen), slot)
    clock.advance(timedelta(minutes=1))
    third = bookings.book(db_session, ctx, by_benali, child_of(benali), slot)
    assert [held.state, second.state, third.state] == [
        BookingState.RESERVEE, BookingState.ATTENTE, BookingState.ATTENTE,
    ]  # fmt: skip

    bookings.cancel(db_session, ctx, by_martin, held.id)

    assert db_session.get(Booking, second.id).state is BookingState.PROPOSEE  # type: ignore[union-attr]
    assert db_session.get(ActivitySession, slot).taken == 1  # type: ignore[union-attr]  # held for Nguyen
    mail = db_session.scalars(select(OutboxMessage)).one()
    assert (mail.recipient, mail.template) == (nguyen_account.email, "place_liberee")
    assert '"jour": "19/10/2026"' in mail.context

    clock.advance(timedelta(hours=48, seconds=1))  # Nguyen lets the offer lapse
    with pytest.raises(BookingRefused, match="n'est plus réservée pour vous"):
        bookings.accept_offer(db_session, ctx, by_nguyen, second.id)
    assert bookings.expire_offers(db_session, ctx) == 1
    offered = bookings.accept_offer(db_session, ctx, by_benali, third.id)

    assert offered.state is BookingState.RESERVEE
    assert db_session.get(Booking, second.id).state is BookingState.ANNULEE  # type: ignore[union-attr]
    assert db_session.get(ActivitySession, slot).taken == 1  # type: ignore[union-attr]
    assert events(db_session)[-3:] == [
        ("offre_expiree", Channel.AUTOMATIQUE),
        ("place_proposee", Channel.AUTOMATIQUE),
        ("offre_acceptee", Channel.FAMILLE),
    ]


def test_a_place_nobody_waits_for_goes_back_to_the_pool(
    db_session: Session, clock: FrozenClock, ctx: Context, foyer: Foyer, canteen: dict[date, int]
) -> None:
    _, booker = family(db_session, clock, foyer)
    booking = bookings.book(db_session, ctx, booker, child_of(foyer), canteen[MONDAY])

    bookings.cancel(db_session, ctx, booker, booking.id)
    bookings.cancel(db_session, ctx, booker, booking.id)  # twice: nothing more happens

    assert db_session.get(ActivitySession, canteen[MONDAY]).taken == 0  # type: ignore[union-attr]
    assert events(db_session) == [("reservee", Channel.FAMILLE), ("annulee", Channel.FAMILLE)]
    again = bookings.book(db_session, ctx, booker, child_of(foyer), canteen[MONDAY])
    assert again.id == booking.id and again.state is BookingState.RESERVEE


def test_refusals_say_why_and_write_nothing(
    db_session: Session,
    clock: FrozenClock,
    ctx: Context,
    foyer: Foyer,
    other_foyer: Foyer,
    canteen: dict[date, int],
) -> None:
    _, booker = family(db_session, clock, foyer)
    activity_id = db_session.get(ActivitySession, canteen[MONDAY]).activity_id  # type: ignore[union-attr]
    activities.close_day(db_session, activity_id, date(2026, 9, 15), "grève du personnel")
    db_session.commit()
    october = db_session.scalar(
        select(ActivitySession.id).where(ActivitySession.day > date(2026, 9, 30))
    )
    assert october is None  # no session opened past the month

    refusals = {
        "closed": (child_of(foyer), canteen[date(2026, 9, 15)]),
        "other foyer's child": (child_of(other_foyer), canteen[MONDAY]),
        "unknown session": (child_of(foyer), 999_999),
    }
    messages = {}
    for name, (child, slot) in refusals.items():
        with pytest.raises((BookingRefused, BookingNotFound)) as refused:
            bookings.book(db_session, ctx, booker, child, slot)
        messages[name] = str(refused.value)
    clock.current = datetime(2026, 9, 14, 12, 0, tzinfo=UTC)
    with pytest.raises(BookingRefused) as late:
        bookings.book(db_session, ctx, booker, child_of(foyer), canteen[MONDAY])

    assert messages == {
        "closed": "La séance du 15/09/2026 est fermée : grève du personnel.",
        "other foyer's child": "Cet enfant n'est pas dans votre foyer.",
        "unknown session": "Cette séance est introuvable.",
    }
    assert "ne peut plus être modifiée" in str(late.value)
    assert db_session.scalar(select(func.count(Booking.id))) == 0
    assert db_session.scalar(select(func.count(BookingEvent.id))) == 0


def test_a_child_not_enrolled_that_day_is_refused(
    db_session: Session,
    clock: FrozenClock,
    ctx: Context,
    other_foyer: Foyer,
    canteen: dict[date, int],
) -> None:
    _, booker = family(db_session, clock, other_foyer)

    with pytest.raises(BookingRefused) as refused:
        bookings.book(db_session, ctx, booker, child_of(other_foyer), canteen[MONDAY])

    assert str(refused.value) == (
        "Lou n'est pas inscrit(e) à « Cantine de l'école Jules-Ferry » pour le 14/09/2026."
    )


# The school year's opening: 500 families press "Réserver" at the same second for the last
# 20 places. Their bookings share the engine's pool (15 connections, as one app process has).
FAMILIES, PLACES = 500, 20


def test_simultaneous_bookings_never_pass_the_capacity(own_database: Engine) -> None:
    sessions: sessionmaker[Session] = make_session_factory(own_database)
    clock = FrozenClock()
    ctx = Context(clock=clock, calendar=CALENDAR)
    day = HOLIDAY
    with sessions() as setup:
        activity, slot = holiday_day(setup, capacity=PLACES)
        foyers = [make_foyer(setup, clock, f"Foyer {n}") for n in range(FAMILIES)]
        for foyer in foyers:
            activities.enrol(setup, clock, activity.id, child_of(foyer), day, day)
        bookers = [Booker(None, Channel.FAMILLE, foyer.id) for foyer in foyers]
        children = [child_of(foyer) for foyer in foyers]
        setup.commit()

    def book(booker: Booker, child: int, ready: threading.Barrier) -> BookingState:
        with sessions() as session:
            ready.wait()  # every family presses "Réserver" at the same moment
            return bookings.book(session, ctx, booker, child, slot).state

    ready = threading.Barrier(FAMILIES)
    with ThreadPoolExecutor(FAMILIES) as pool:
        states = list(pool.map(book, bookers, children, [ready] * FAMILIES))

    assert states.count(BookingState.RESERVEE) == PLACES
    assert states.count(BookingState.ATTENTE) == FAMILIES - PLACES
    with sessions() as check:
        assert check.get(ActivitySession, slot).taken == PLACES  # type: ignore[union-attr]
        reserved = select(func.count(Booking.id)).where(Booking.state == BookingState.RESERVEE)
        assert check.scalar(reserved) == PLACES


def test_the_worker_passes_a_lapsed_offer_on(
    sessions: sessionmaker[Session],
    db_session: Session,
    clock: FrozenClock,
    ctx: Context,
    vault: Vault,
) -> None:
    day = HOLIDAY
    activity, slot = holiday_day(db_session, capacity=1)
    first, second = make_foyer(db_session, clock, "Martin"), make_foyer(db_session, clock, "Roux")
    for foyer in (first, second):
        activities.enrol(db_session, clock, activity.id, child_of(foyer), day, day)
    db_session.commit()
    (_, by_first), (_, by_second) = (
        family(db_session, clock, first),
        family(db_session, clock, second),
    )
    booked = bookings.book(db_session, ctx, by_first, child_of(first), slot)
    waiting = bookings.book(db_session, ctx, by_second, child_of(second), slot)
    bookings.cancel(db_session, ctx, by_first, booked.id)
    worker = Worker(sessions=sessions, clock=clock, name="offers")
    register_standard_jobs(worker, vault, None, "https://portail.bellerive.example")

    clock.advance(timedelta(hours=48, minutes=1))
    worker.tick(clock.now())

    db_session.expire_all()
    assert db_session.get(Booking, waiting.id).state is BookingState.ANNULEE  # type: ignore[union-attr]
    assert db_session.get(ActivitySession, slot).taken == 0  # type: ignore[union-attr]
    assert events(db_session)[-1] == ("offre_expiree", Channel.AUTOMATIQUE)


def test_a_weekly_pattern_books_each_chosen_day_and_says_which_it_could_not(
    db_session: Session, clock: FrozenClock, ctx: Context, foyer: Foyer, canteen: dict[date, int]
) -> None:
    _, booker = family(db_session, clock, foyer)
    activity_id = db_session.get(ActivitySession, canteen[MONDAY]).activity_id  # type: ignore[union-attr]
    activities.close_day(db_session, activity_id, date(2026, 9, 15), "sortie scolaire")
    db_session.commit()
    mondays_tuesdays_thursdays = frozenset({0, 1, 3})

    result = bookings.book_pattern(
        db_session, ctx, booker, child_of(foyer), activity_id,
        mondays_tuesdays_thursdays, date(2026, 9, 24),
    )  # fmt: skip

    assert [day.day for day in result.booked] == [3, 7, 8, 10, 14, 17, 21, 22, 24]
    assert result.waiting == []
    assert result.refused == {
        date(2026, 9, 1): (
            "La séance du 01/09/2026 ne peut plus être modifiée depuis le 31/08/2026 à 10:00."
        ),
        date(2026, 9, 15): "La séance du 15/09/2026 est fermée : sortie scolaire.",
    }
    again = bookings.book_pattern(
        db_session, ctx, booker, child_of(foyer), activity_id,
        mondays_tuesdays_thursdays, date(2026, 9, 24),
    )  # fmt: skip
    assert again.booked == result.booked
    assert db_session.scalar(select(func.count(BookingEvent.id))) == 9  # nothing twice


def test_a_weekly_pattern_needs_days_and_an_end_to_come(
    db_session: Session, clock: FrozenClock, ctx: Context, foyer: Foyer, canteen: dict[date, int]
) -> None:
    _, booker = family(db_session, clock, foyer)
    activity_id = db_session.get(ActivitySession, canteen[MONDAY]).activity_id  # type: ignore[union-attr]

    with pytest.raises(BookingRefused, match="au moins un jour"):
        bookings.book_pattern(
            db_session, ctx, booker, child_of(foyer), activity_id, frozenset(), date(2026, 9, 30)
        )
    with pytest.raises(BookingRefused, match="déjà passée"):
        bookings.book_pattern(
            db_session, ctx, booker, child_of(foyer), activity_id, frozenset({0}), date(2026, 8, 1)
        )


def test_two_cancellations_at_once_free_the_place_once(own_database: Engine) -> None:
    sessions: sessionmaker[Session] = make_session_factory(own_database)
    clock = FrozenClock()
    ctx = Context(clock=clock, calendar=CALENDAR)
    day = HOLIDAY
    with sessions() as setup:
        activity, slot = holiday_day(setup, capacity=PLACES)
        foyer = make_foyer(setup, clock, "Martin")
        activities.enrol(setup, clock, activity.id, child_of(foyer), day, day)
        setup.commit()
        booker = Booker(None, Channel.FAMILLE, foyer.id)
        booking = bookings.book(setup, ctx, booker, child_of(foyer), slot).id

    def cancel(ready: threading.Barrier) -> None:
        with sessions() as session:
            ready.wait()  # two tabs press "Annuler" at the same moment
            bookings.cancel(session, ctx, booker, booking)

    ready = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(cancel, [ready, ready]))

    with sessions() as check:
        assert check.get(ActivitySession, slot).taken == 0  # type: ignore[union-attr]
        cancelled = select(func.count(BookingEvent.id)).where(BookingEvent.action == "annulee")
        assert check.scalar(cancelled) == 1


def test_a_child_is_enrolled_only_at_an_age_the_activity_admits(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    activity = make_activity(db_session, make_service(db_session))
    activity.min_age, activity.max_age = 3, 11
    child = db_session.get(FoyerMember, child_of(foyer))
    assert child is not None
    first, last = date(2026, 9, 1), date(2027, 7, 3)

    for born in (date(2023, 9, 2), date(2014, 9, 1), None):  # two, twelve, unknown
        child.birth_date = born
        with pytest.raises(BookingRefused, match=r"n'a pas l'âge demandé .* \(de 3 à 11 ans\)"):
            activities.enrol(db_session, clock, activity.id, child.id, first, last)
    child.birth_date = date(2023, 9, 1)  # three on the first day
    activities.enrol(db_session, clock, activity.id, child.id, first, last)
    child.birth_date = date(2014, 9, 2)  # still eleven on the first day
    activities.enrol(db_session, clock, activity.id, child.id, first, last)
    assert db_session.scalar(select(func.count(Enrolment.id))) == 2
