"""What a service defines: activities, their sessions, closed days, and who is enrolled."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import FoyerMember, MemberRole
from procedures.working_hours import WorkingCalendar
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import Activity, ActivitySession, Enrolment


@dataclass(frozen=True)
class Timetable:
    """Sessions to open: on these weekdays (0 = Monday) between two dates, at these times."""

    first_day: date
    last_day: date
    weekdays: frozenset[int]
    starts_at: time
    ends_at: time
    capacity: int | None = None  # None: the activity's


def open_sessions(
    session: Session, calendar: WorkingCalendar, activity_id: int, timetable: Timetable
) -> int:
    """Open a session on each matching day that is not a public holiday and has none yet.

    Returns how many were opened. The caller commits.
    """
    activity = _activity(session, activity_id)
    existing = set(
        session.scalars(
            select(ActivitySession.day).where(
                ActivitySession.activity_id == activity.id,
                ActivitySession.day.between(timetable.first_day, timetable.last_day),
            )
        )
    )
    opened, day = 0, timetable.first_day
    while day <= timetable.last_day:
        wanted = day.weekday() in timetable.weekdays and day not in existing
        if wanted and not _public_holiday(calendar, day):
            session.add(
                ActivitySession(
                    activity_id=activity.id,
                    day=day,
                    starts_at=timetable.starts_at,
                    ends_at=timetable.ends_at,
                    capacity=timetable.capacity or activity.capacity,
                )
            )
            opened += 1
        day += timedelta(days=1)
    session.flush()
    return opened


def close_day(session: Session, activity_id: int, day: date, reason: str) -> ActivitySession:
    """Close a day (a strike, a school trip): nothing more can be booked on it."""
    if not reason.strip():
        raise BookingRefused("Indiquez pourquoi la journée est fermée.")
    found = session.scalar(
        select(ActivitySession).where(
            ActivitySession.activity_id == activity_id, ActivitySession.day == day
        )
    )
    if found is None:
        raise BookingNotFound("Aucune séance de cette activité ce jour-là.")
    found.closed_reason = reason.strip()
    return found


def enrol(
    session: Session,
    clock: Clock,
    activity_id: int,
    member_id: int,
    starts_on: date,
    ends_on: date,
) -> Enrolment:
    """Register a child for an activity over a period (the caller commits)."""
    activity = _activity(session, activity_id)
    child = session.get(FoyerMember, member_id)
    if child is None or child.role is not MemberRole.ENFANT:
        raise BookingNotFound("Cet enfant est introuvable.")
    if ends_on < starts_on:
        raise BookingRefused("La fin de l'inscription précède son début.")
    enrolment = Enrolment(
        activity_id=activity.id,
        foyer_id=child.foyer_id,
        member_id=child.id,
        starts_on=starts_on,
        ends_on=ends_on,
        created_at=clock.now(),
    )
    session.add(enrolment)
    session.flush()
    return enrolment


def _activity(session: Session, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise BookingNotFound("Cette activité est introuvable.")
    return activity


def _public_holiday(calendar: WorkingCalendar, day: date) -> bool:
    """A public holiday of the town (which weekdays are open is the timetable's business)."""
    return not replace(calendar, weekdays=frozenset(range(7))).is_working_day(day)
