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
    for slot in slots:
        if slot.day.weekday() not in weekdays:
            continue
        try:
            with session.begin_nested():
                booking, _ = _book_one(session, ctx, booker, slot, child)
        except BookingRefused as refusal:
            result.refused[slot.day] = refusal.message
            continue
        if booking.state is BookingState.ATTENTE:
            result.waiting.append(slot.day)
        else:
            result.booked.append(slot.day)
    session.commit()
    return result


def _book_one(
    session: Session, ctx: Context, booker: Booker, slot: ActivitySession, child: FoyerMember
) -> tuple[Booking, bool]:
    """Book one session without committing; whether anything changed."""
    _check_enrolled(session, slot, child)
    if not custody.at_home(custody.custody_of(session, child.id), child.id, slot.day):
        raise BookingRefused(
            f"Le {_day(slot)}, {child.first_name} est chez son autre parent : "
            "c'est à lui de réserver cette semaine."
        )
    if slot.closed_reason:
        raise BookingRefused(f"La séance du {_day(slot)} est fermée : {slot.closed_reason}.")
    _check_cutoff(ctx, slot)
    existing = _booking_of(session, slot.id, child.id)
    if existing is not None and existing.state is not BookingState.ANNULEE:
        return existing, False
    now = ctx.clock.now()
    booking = existing or Booking(
        session_id=slot.id, foyer_id=child.foyer_id, member_id=child.id, created_at=now
    )
    if _take_place(session, slot.id):
        booking.state, booking.waiting_since = BookingState.RESERVEE, None
        action = "reservee"
    else:
        booking.state, booking.waiting_since = BookingState.ATTENTE, now
        action = "liste_attente"
    booking.updated_at, booking.offer_expires_at = now, None
    session.add(booking)
    session.flush()
    _journal(session, booking, action, booker, now)
    return booking, True


def cancel(session: Session, ctx: Context, booker: Booker, booking_id: int) -> Booking:
    """Cancel a booking (or leave the waiting list, or decline an offer) before the cut-off.

    A place freed this way is offered to the first family of the waiting list.
    """
    booking = _own_booking(session, booker, booking_id)
    if booking.state is BookingState.ANNULEE:
        session.rollback()
        return booking
    _check_cutoff(ctx, booking.session)
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
    booking = session.get(Booking, booking_id, populate_existing=True)
    if booking is None or (booker.foyer_id is not None and booking.foyer_id != booker.foyer_id):
        raise BookingNotFound("Cette réservation est introuvable.")
    return booking


def _booking_of(session: Session, session_id: int, member_id: int) -> Booking | None:
    return session.scalar(
        select(Booking)
        .where(Booking.session_id == session_id, Booking.member_id == member_id)
        .execution_options(populate_existing=True)
    )


def _check_enrolled(session: Session, slot: ActivitySession, child: FoyerMember) -> None:
    enrolled = session.scalar(
        select(Enrolment.id).where(
            Enrolment.activity_id == slot.activity_id,
            Enrolment.member_id == child.id,
            Enrolment.starts_on <= slot.day,
            Enrolment.ends_on >= slot.day,
        )
    )
    if enrolled is None:
        raise BookingRefused(
            f"{child.first_name} n'est pas inscrit(e) à « {slot.activity.name} » "
            f"pour le {_day(slot)}."
        )


def _check_cutoff(ctx: Context, slot: ActivitySession) -> None:
    limit = change_deadline(ctx, slot)
    if ctx.clock.now() > limit:
        shown = limit.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
        raise BookingRefused(
            f"La séance du {_day(slot)} ne peut plus être modifiée depuis le {shown}."
        )


def _day(slot: ActivitySession) -> str:
    return slot.day.strftime("%d/%m/%Y")
