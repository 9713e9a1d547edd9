"""What families and agents do with sessions: book, cancel, wait, take a freed place.

Every function takes the caller's session and commits the change it makes, or raises a
`BookingError` with nothing written. A session is never booked past its capacity, whatever
the concurrency: a place is taken by one conditional UPDATE of the session's `taken`
counter, which PostgreSQL runs row by row under its lock and SQLite under its write lock.
Booking twice what is booked (a double click) changes nothing. Every change is journaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.family import family_accounts
from coffre.clock import PARIS, Clock
from coffre.models import FoyerMember, MemberRole
from notifications import outbox
from notifications.templates import PLACE_OFFER_TEMPLATE
from procedures.working_hours import WorkingCalendar
from reservations import custody
from reservations.cutoff import deadline
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import (
    ActivitySession,
    Booking,
    BookingEvent,
    BookingState,
    Channel,
    Enrolment,
    SharedCustody,
)

HOLDING = (BookingState.RESERVEE, BookingState.PROPOSEE)  # states that take a place


@dataclass(frozen=True)
class Booker:
    """Who changes a booking: a family for its own foyer, or an agent (counter, back office)."""

    account_id: int | None
    channel: Channel
    foyer_id: int | None = None  # a family's own foyer; None for agents


@dataclass(frozen=True)
class Context:
    """What the services need besides the session: time, the working days, the portal's URL."""

    clock: Clock
    calendar: WorkingCalendar
    base_url: str = ""


def book(
    session: Session, ctx: Context, booker: Booker, member_id: int, session_id: int
) -> Booking:
    """Book the child on the session, or put it on the waiting list when the session is full.

    Refused (BookingRefused, nothing written) for a child not enrolled that day, a closed
    day, or past the cut-off; BookingNotFound for a session or a child the booker cannot see.
    """
    slot, child = _slot(session, session_id), _child(session, booker, member_id)
    try:
        booking, changed = _book_one(session, ctx, booker, slot, child)
    except IntegrityError:
        # The same child booked by a concurrent request (the other parent, a double click
        # on two connections): its booking stands, this one is not written.
        session.rollback()
        found = _booking_of(session, slot.id, child.id)
        assert found is not None
        return found
    if changed:
        session.commit()
    else:
        session.rollback()  # booked (or waiting) already: a second click changes nothing
    return booking


@dataclass(frozen=True)
class PatternResult:
    """What a weekly pattern did, day by day: booked, on the waiting list, or refused (why)."""

    booked: list[date]
    waiting: list[date]
    refused: dict[date, str]


def book_pattern(
    session: Session,
    ctx: Context,
    booker: Booker,
    member_id: int,
    activity_id: int,
    weekdays: frozenset[int],
    until: date,
) -> PatternResult:
    """Book every session of the activity on these weekdays (0 = Monday) from today to
    `until`, in one transaction: "every Monday, Tuesday and Thursday until the holidays".

    Days already booked are left as they are; a day the rules refuse (closed, past the
    cut-off, outside the enrolment) is reported and the others are booked. Exceptions are
    days cancelled afterwards, one by one.
    """
    run = partial(_book_pattern, session, ctx, booker, member_id, activity_id, weekdays, until)
    try:
        return run()
    except IntegrityError:
        # The same pattern sent twice at once (a double click): the other one's bookings
        # stand, and this one, run again, finds them.
        session.rollback()
        return run()


def _book_pattern(
    session: Session,
    ctx: Context,
    booker: Booker,
    member_id: int,
    activity_id: int,
    weekdays: frozenset[int],
    until: date,
) -> PatternResult:
    child = _child(session, booker, member_id)
    if not weekdays or not weekdays <= frozenset(range(7)):
        raise BookingRefused("Choisissez au moins un jour de la semaine.")
    today = ctx.clock.now().astimezone(PARIS).date()
    if until < today:
        raise BookingRefused("La date de fin est déjà passée.")
    slots = session.scalars(
        select(ActivitySession)
        .where(
            ActivitySession.activity_id == activity_id,
            ActivitySession.day.between(today, until),
        )
        .order_by(ActivitySession.day)
    ).all()
    result = PatternResult(booked=[], waiting=[], refused={})
    rules = _rules_of(session, child)
    chosen = [slot for slot in slots if slot.day.weekday() in weekdays]
    existing = {
        booking.session_id: booking
        for booking in session.scalars(
            select(Booking).where(
                Booking.member_id == child.id,
                Booking.session_id.in_([slot.id for slot in chosen]),
            )
        )
    }
    to_book = []
    for slot in chosen:
        refusal = _refusal(ctx, slot, rules)
        before = existing.get(slot.id)
        if refusal is not None:
            result.refused[slot.day] = refusal
        elif before is not None and before.state is not BookingState.ANNULEE:
            (result.waiting if before.state is BookingState.ATTENTE else result.booked).append(
                slot.day
            )
        else:
            to_book.append(slot)
    # Sessions without a limit take their places in one statement; the others one by one,
    # each under the same conditional UPDATE as a single booking.
    unlimited = [slot.id for slot in to_book if slot.capacity is None]
    if unlimited:
        session.execute(
            update(ActivitySession)
            .where(ActivitySession.id.in_(unlimited))
            .values(taken=ActivitySession.taken + 1)
            .execution_options(synchronize_session=False)
        )
    for slot in to_book:
        placed = slot.capacity is None or _take_place(session, slot.id)
        _new_booking(session, ctx, booker, slot, child, existing.get(slot.id), placed)
        (result.booked if placed else result.waiting).append(slot.day)
    session.commit()
    result.booked.sort()
    result.waiting.sort()
    return result


def _book_one(
    session: Session, ctx: Context, booker: Booker, slot: ActivitySession, child: FoyerMember
) -> tuple[Booking, bool]:
    """Book one session without committing; whether anything changed."""
    refusal = _refusal(ctx, slot, _rules_of(session, child))
    if refusal is not None:
        raise BookingRefused(refusal)
    existing = _booking_of(session, slot.id, child.id)
    if existing is not None and existing.state is not BookingState.ANNULEE:
        return existing, False
    booking = _new_booking(
        session, ctx, booker, slot, child, existing, _take_place(session, slot.id)
    )
    session.flush()
    return booking, True


def _new_booking(
    session: Session,
    ctx: Context,
    booker: Booker,
    slot: ActivitySession,
    child: FoyerMember,
    existing: Booking | None,
    placed: bool,
) -> Booking:
    """The booking (new, or a cancelled one taken up again), placed or waiting, journaled."""
    now = ctx.clock.now()
    booking = existing or Booking(
        session_id=slot.id, foyer_id=child.foyer_id, member_id=child.id, created_at=now
    )
    if placed:
        booking.state, booking.waiting_since = BookingState.RESERVEE, None
    else:
        booking.state, booking.waiting_since = BookingState.ATTENTE, now
    booking.updated_at, booking.offer_expires_at = now, None
    session.add(booking)
    booking.events.append(
        BookingEvent(
            at=now,
            action="reservee" if placed else "liste_attente",
            channel=booker.channel,
            account_id=booker.account_id,
        )
    )
    return booking


def cancel(session: Session, ctx: Context, booker: Booker, booking_id: int) -> Booking:
    """Cancel a booking (or leave the waiting list, or decline an offer) before the cut-off.

    A place freed this way is offered to the first family of the waiting list.
    """
    booking = _own_booking(session, booker, booking_id)
    if booking.state is BookingState.ANNULEE:
        session.rollback()
        return booking
    late = _past_cutoff(ctx, booking.session)
    if late is not None:
        raise BookingRefused(late)
    _release(session, ctx, booking, "annulee", booker)
    session.commit()
    return booking


def accept_offer(session: Session, ctx: Context, booker: Booker, booking_id: int) -> Booking:
    """Take the place held for the child: the booking is confirmed."""
    booking = _own_booking(session, booker, booking_id)
    now = ctx.clock.now()
    if booking.state is BookingState.RESERVEE:
        session.rollback()
        return booking
    expires = booking.offer_expires_at
    if booking.state is not BookingState.PROPOSEE or expires is None or expires <= now:
        raise BookingRefused("Cette place n'est plus réservée pour vous.")
    booking.state, booking.offer_expires_at, booking.updated_at = BookingState.RESERVEE, None, now
    _journal(session, booking, "offre_acceptee", booker, now)
    session.commit()
    return booking


def expire_offers(session: Session, ctx: Context) -> int:
    """Pass each lapsed offer to the next family waiting (the worker's job); how many lapsed."""
    now = ctx.clock.now()
    lapsed = session.scalars(
        select(Booking)
        .where(Booking.state == BookingState.PROPOSEE, Booking.offer_expires_at <= now)
        .order_by(Booking.offer_expires_at, Booking.id)
        .with_for_update(skip_locked=True)  # two workers never pass the same offer on twice
    ).all()
    automatic = Booker(account_id=None, channel=Channel.AUTOMATIQUE)
    for booking in lapsed:
        _release(session, ctx, booking, "offre_expiree", automatic)
    session.commit()
    return len(lapsed)


def change_deadline(ctx: Context, slot: ActivitySession) -> datetime:
    """Until when a family may change the session (shown beside each day)."""
    return deadline(slot.activity, slot.day, ctx.calendar)


def _release(session: Session, ctx: Context, booking: Booking, action: str, booker: Booker) -> None:
    """Cancel the booking; a place it held goes to the first one waiting, or back to the pool."""
    now = ctx.clock.now()
    held = booking.state in HOLDING
    booking.state, booking.offer_expires_at, booking.updated_at = BookingState.ANNULEE, None, now
    _journal(session, booking, action, booker, now)
    if not held:
        return
    successor = session.scalar(
        select(Booking)
        .where(Booking.session_id == booking.session_id, Booking.state == BookingState.ATTENTE)
        .order_by(Booking.waiting_since, Booking.id)
        .limit(1)
        .with_for_update()
    )
    if successor is None:
        session.execute(
            update(ActivitySession)
            .where(ActivitySession.id == booking.session_id)
            .values(taken=ActivitySession.taken - 1)
        )
        return
    hours = booking.session.activity.offer_hours
    successor.state, successor.updated_at = BookingState.PROPOSEE, now
    successor.offer_expires_at = now + timedelta(hours=hours)
    _journal(session, successor, "place_proposee", booker, now)
    _notify_offer(session, ctx, successor)


def _take_place(session: Session, session_id: int) -> bool:
    """Take one place if one is left: one statement, so two requests never take the last."""
    result = session.execute(
        update(ActivitySession)
        .where(
            ActivitySession.id == session_id,
            or_(
                ActivitySession.capacity.is_(None),
                ActivitySession.taken < ActivitySession.capacity,
            ),
        )
        .values(taken=ActivitySession.taken + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _notify_offer(session: Session, ctx: Context, booking: Booking) -> None:
    slot, child = booking.session, session.get(FoyerMember, booking.member_id)
    assert child is not None and booking.offer_expires_at is not None
    until = booking.offer_expires_at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
    for account in family_accounts(session, booking.foyer_id):
        outbox.enqueue(
            session,
            ctx.clock,
            key=f"place-liberee:{booking.id}:{booking.offer_expires_at.isoformat()}:{account.id}",
            recipient=account.email,
            template=PLACE_OFFER_TEMPLATE,
            context={
                "enfant": child.first_name,
                "activite": slot.activity.name,
                "jour": _day(slot),
                "jusqu_au": until,
                "lien": f"{ctx.base_url}/famille/reservations",
            },
        )


def _journal(session: Session, booking: Booking, action: str, booker: Booker, at: datetime) -> None:
    session.add(
        BookingEvent(
            booking_id=booking.id,
            at=at,
            action=action,
            channel=booker.channel,
            account_id=booker.account_id,
        )
    )


def _slot(session: Session, session_id: int) -> ActivitySession:
    slot = session.get(ActivitySession, session_id)
    if slot is None:
        raise BookingNotFound("Cette séance est introuvable.")
    return slot


def _child(session: Session, booker: Booker, member_id: int) -> FoyerMember:
    child = session.get(FoyerMember, member_id)
    mine = booker.foyer_id is None or (child is not None and child.foyer_id == booker.foyer_id)
    if child is None or child.role is not MemberRole.ENFANT or not mine:
        raise BookingNotFound("Cet enfant n'est pas dans votre foyer.")
    return child


def _own_booking(session: Session, booker: Booker, booking_id: int) -> Booking:
    # Locked: two cancellations at once (two tabs, two parents) must not free the place twice.
    booking = session.get(Booking, booking_id, populate_existing=True, with_for_update=True)
    if booking is None or (booker.foyer_id is not None and booking.foyer_id != booker.foyer_id):
        raise BookingNotFound("Cette réservation est introuvable.")
    return booking


def _booking_of(session: Session, session_id: int, member_id: int) -> Booking | None:
    return session.scalar(
        select(Booking)
        .where(Booking.session_id == session_id, Booking.member_id == member_id)
        .execution_options(populate_existing=True)
    )


@dataclass(frozen=True)
class _Child:
    """What the rules need to know of a child, read once for many sessions."""

    member: FoyerMember
    enrolments: list[tuple[int, date, date]]  # (activity, first day, last day)
    shared: SharedCustody | None


def _rules_of(session: Session, child: FoyerMember) -> _Child:
    enrolments = session.execute(
        select(Enrolment.activity_id, Enrolment.starts_on, Enrolment.ends_on).where(
            Enrolment.member_id == child.id
        )
    ).all()
    return _Child(
        member=child,
        enrolments=[(activity, first, last) for activity, first, last in enrolments],
        shared=custody.custody_of(session, child.id),
    )


def _refusal(ctx: Context, slot: ActivitySession, rules: _Child) -> str | None:
    """Why the rules refuse to change this child's session, in French; None if they do not."""
    child = rules.member
    enrolled = any(
        activity == slot.activity_id and first <= slot.day <= last
        for activity, first, last in rules.enrolments
    )
    if not enrolled:
        return (
            f"{child.first_name} n'est pas inscrit(e) à « {slot.activity.name} » "
            f"pour le {_day(slot)}."
        )
    if not custody.at_home(rules.shared, child.id, slot.day):
        return (
            f"Le {_day(slot)}, {child.first_name} est chez son autre parent : "
            "c'est à lui de réserver cette semaine."
        )
    if slot.closed_reason:
        return f"La séance du {_day(slot)} est fermée : {slot.closed_reason}."
    return _past_cutoff(ctx, slot)


def _past_cutoff(ctx: Context, slot: ActivitySession) -> str | None:
    """Why the session can no longer be changed, if its cut-off has passed."""
    limit = change_deadline(ctx, slot)
    if ctx.clock.now() <= limit:
        return None
    shown = limit.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
    return f"La séance du {_day(slot)} ne peut plus être modifiée depuis le {shown}."


def _day(slot: ActivitySession) -> str:
    return slot.day.strftime("%d/%m/%Y")
