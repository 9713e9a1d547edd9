"""What a service defines: activities, their sessions, closed days, and who is enrolled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import FoyerMember, MemberRole
from procedures.working_hours import WorkingCalendar
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import (
    Activity,
    ActivityKind,
    ActivitySession,
    BillingRule,
    CutoffRule,
    Enrolment,
)

MAX_PERIOD_DAYS = 400


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
    if not timetable.weekdays or not timetable.weekdays <= frozenset(range(7)):
        raise BookingRefused("Choisissez au moins un jour de la semaine.")
    if timetable.last_day < timetable.first_day:
        raise BookingRefused("La fin de la période précède son début.")
    if not 2000 <= timetable.first_day.year <= timetable.last_day.year <= 2100:
        raise BookingRefused("Choisissez une période entre 2000 et 2100.")
    if (timetable.last_day - timetable.first_day).days > MAX_PERIOD_DAYS:
        raise BookingRefused("Ouvrez au plus une année scolaire à la fois.")
    if timetable.ends_at <= timetable.starts_at:
        raise BookingRefused("L'heure de fin doit suivre l'heure de début.")
    if timetable.capacity is not None and not 1 <= timetable.capacity <= 10_000:
        raise BookingRefused("Le nombre de places doit être compris entre 1 et 10 000.")
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
    if not reason.strip() or len(reason.strip()) > 200:
        raise BookingRefused("Indiquez pourquoi la journée est fermée (200 caractères au plus).")
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
    if not activity.admits(child.birth_date, starts_on):
        raise BookingRefused(
            f"{child.first_name} n'a pas l'âge demandé pour « {activity.name} » ({activity.ages})."
        )
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


@dataclass(frozen=True)
class Definition:
    """What a service says of a new activity."""

    service_id: int
    name: str
    kind: ActivityKind
    site: str
    cutoff_rule: CutoffRule
    cutoff_count: int
    cutoff_time: time
    capacity: int | None
    price_category: str
    min_age: int | None = None
    max_age: int | None = None
    billing_rule: BillingRule = BillingRule.RESERVATION


def define(session: Session, service_ids: frozenset[int], definition: Definition) -> Activity:
    """Create an activity for one of the agent's services (the caller commits)."""
    if definition.service_id not in service_ids:
        raise BookingNotFound("Ce service est introuvable.")
    name, site = definition.name.strip(), definition.site.strip()
    if not name or not site or len(name) > 200 or len(site) > 200:
        raise BookingRefused("Donnez un nom et un lieu à l'activité (200 caractères au plus).")
    if not 0 <= definition.cutoff_count <= 90:
        raise BookingRefused("Le délai de réservation doit être compris entre 0 et 90.")
    if definition.cutoff_rule is CutoffRule.SEMAINE_PRECEDENTE and definition.cutoff_count > 6:
        raise BookingRefused("Pour « la semaine précédente », choisissez un jour de 0 (lundi) à 6.")
    if definition.capacity is not None and not 1 <= definition.capacity <= 10_000:
        raise BookingRefused("Le nombre de places doit être compris entre 1 et 10 000.")
    ages = [age for age in (definition.min_age, definition.max_age) if age is not None]
    if not all(0 <= age <= 25 for age in ages) or ages != sorted(ages):
        raise BookingRefused("Les âges vont de 0 à 25 ans, le minimum avant le maximum.")
    activity = Activity(
        service_id=definition.service_id,
        code=f"{definition.kind.value}-{uuid.uuid4().hex[:10]}",
        name=name,
        kind=definition.kind,
        site=site,
        cutoff_rule=definition.cutoff_rule,
        cutoff_count=definition.cutoff_count,
        cutoff_time=definition.cutoff_time,
        capacity=definition.capacity,
        price_category=definition.price_category.strip()[:60] or definition.kind.value,
        min_age=definition.min_age,
        max_age=definition.max_age,
        billing_rule=definition.billing_rule,
    )
    session.add(activity)
    session.flush()
    return activity


def of_services(session: Session, service_ids: frozenset[int]) -> list[Activity]:
    return list(
        session.scalars(
            select(Activity)
            .where(Activity.service_id.in_(service_ids))
            .order_by(Activity.site, Activity.name)
        )
    )


def activity_of(session: Session, service_ids: frozenset[int], activity_id: int) -> Activity:
    """The activity, if it belongs to one of these services (BookingNotFound otherwise)."""
    activity = session.get(Activity, activity_id)
    if activity is None or activity.service_id not in service_ids:
        raise BookingNotFound("Cette activité est introuvable.")
    return activity


def upcoming(session: Session, activity_id: int, first: date, days: int) -> list[ActivitySession]:
    return list(
        session.scalars(
            select(ActivitySession)
            .where(
                ActivitySession.activity_id == activity_id,
                ActivitySession.day.between(first, first + timedelta(days=days)),
            )
            .order_by(ActivitySession.day)
        )
    )
