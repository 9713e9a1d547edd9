"""What a family sees of its bookings: a week per child, each day with what it can still do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.models import FoyerMember, MemberRole
from reservations import custody
from reservations.bookings import Context, change_deadline
from reservations.custody import at_home
from reservations.models import Activity, ActivitySession, Booking, BookingState, Enrolment
from reservations.registrations import justified_days


@dataclass(frozen=True)
class Day:
    """One session of an activity for one child, and where the child stands."""

    session_id: int
    day: date
    starts_at: str
    ends_at: str
    state: BookingState | None  # None: not booked
    booking_id: int | None
    closed_reason: str | None
    deadline: datetime
    changeable: bool  # before the cut-off, not closed, and the child's week in this home
    other_home: bool  # shared custody: the other parent's week
    offer_expires_at: datetime | None
    full: bool  # no place left: booking joins the waiting list
    justified_absence: bool = False  # a medical certificate the service accepted covers it

    @property
    def absence_to_justify(self) -> bool:
        """Booked, past the cut-off (too late to cancel): an illness is justified instead."""
        booked = self.state is BookingState.RESERVEE and not self.other_home
        return booked and not self.changeable and not self.justified_absence


@dataclass(frozen=True)
class ActivityWeek:
    activity_id: int
    name: str
    site: str
    days: Sequence[Day]


@dataclass(frozen=True)
class ChildWeek:
    member_id: int
    first_name: str
    has_pai: bool
    activities: Sequence[ActivityWeek]


def family_week(session: Session, ctx: Context, foyer_id: int, monday: date) -> list[ChildWeek]:
    """Every child of the foyer with the sessions, Monday to Sunday, of its enrolments."""
    return family_days(session, ctx, foyer_id, monday, monday + timedelta(days=6))


def family_days(
    session: Session, ctx: Context, foyer_id: int, monday: date, sunday: date
) -> list[ChildWeek]:
    """Every child of the foyer with the sessions from `monday` to `sunday` (any two days:
    a week, a month) of its enrolments."""
    children = session.scalars(
        select(FoyerMember)
        .where(FoyerMember.foyer_id == foyer_id, FoyerMember.role == MemberRole.ENFANT)
        .order_by(FoyerMember.birth_date, FoyerMember.id)
    ).all()
    enrolments = session.execute(
        select(Enrolment, Activity)
        .join(Activity, Activity.id == Enrolment.activity_id)
        .where(
            Enrolment.foyer_id == foyer_id,
            Enrolment.starts_on <= sunday,
            Enrolment.ends_on >= monday,
        )
        .order_by(Activity.name, Activity.id)
    ).all()
    activity_ids = {activity.id for _, activity in enrolments}
    slots = session.scalars(
        select(ActivitySession)
        .where(
            ActivitySession.activity_id.in_(activity_ids),
            ActivitySession.day.between(monday, sunday),
        )
        .order_by(ActivitySession.day)
    ).all()
    booked = {
        (booking.session_id, booking.member_id): booking
        for booking in session.scalars(
            select(Booking).where(
                Booking.foyer_id == foyer_id, Booking.session_id.in_([s.id for s in slots])
            )
        )
    }
    justified = justified_days(session, [c.id for c in children], monday, sunday)
    now = ctx.clock.now()
    weeks = []
    for child in children:
        shared = custody.custody_of(session, child.id)
        lines = []
        for enrolment, activity in enrolments:
            if enrolment.member_id != child.id:
                continue
            days = [
                _day(
                    ctx,
                    slot,
                    booked.get((slot.id, child.id)),
                    now,
                    at_home(shared, child.id, slot.day),
                    (child.id, slot.day) in justified,
                )
                for slot in slots
                if slot.activity_id == activity.id
                and enrolment.starts_on <= slot.day <= enrolment.ends_on
            ]
            lines.append(ActivityWeek(activity.id, activity.name, activity.site, days))
        if lines:
            weeks.append(ChildWeek(child.id, child.first_name, child.has_pai, lines))
    return weeks


def _day(
    ctx: Context,
    slot: ActivitySession,
    booking: Booking | None,
    now: datetime,
    home: bool,
    justified: bool,
) -> Day:
    limit = change_deadline(ctx, slot)
    live = booking is not None and booking.state is not BookingState.ANNULEE
    return Day(
        session_id=slot.id,
        day=slot.day,
        starts_at=slot.starts_at.strftime("%H:%M"),
        ends_at=slot.ends_at.strftime("%H:%M"),
        state=booking.state if booking is not None and live else None,
        booking_id=booking.id if booking is not None else None,
        closed_reason=slot.closed_reason,
        deadline=limit,
        changeable=home and slot.closed_reason is None and now <= limit,
        other_home=not home,
        offer_expires_at=booking.offer_expires_at if booking is not None else None,
        full=slot.capacity is not None and slot.taken >= slot.capacity,
        justified_absence=justified,
    )
