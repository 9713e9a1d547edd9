"""A school year of canteen bookings (and the canteens' grids), by bulk inserts: the load
town's (`generate.py --bookings`) and the bookings benchmark's (`bench/bookings_scale.py`).

Each school site has its canteen on Mondays, Tuesdays, Thursdays and Fridays of the
2026-2027 school year; every child is enrolled at its site's canteen, and the children of
the first sites are booked on every day of the year.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from datetime import time as clock_time

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from accounts.models import Entity, Service
from coffre.models import FoyerMember, MemberRole
from facturation.models import BANDS, Tariff, Unit
from procedures.working_hours import WorkingCalendar
from reservations import activities
from reservations.models import (
    Activity,
    ActivityKind,
    ActivitySession,
    Booking,
    BookingState,
    CutoffRule,
    Enrolment,
)

YEAR_START, YEAR_END = date(2026, 9, 1), date(2027, 7, 3)
CANTEEN_DAYS = frozenset({0, 1, 3, 4})
BATCH = 5000
SITES, BOOKED_SITES = 40, 8  # the load town: a fifth of the sites booked all year

Child = tuple[int, int]  # (member id, foyer id)


def bench_service(session: Session) -> Service:
    """The benchmarks' town and its school service, which runs the canteens."""
    entity = Entity(slug="ville", name="Ville de Bench")
    session.add(entity)
    session.flush()
    service = Service(entity_id=entity.id, code="scolaire", name="Affaires scolaires")
    session.add(service)
    session.flush()
    return service


def price_canteens(
    session: Session, canteens: Sequence[int], valid_from: date, now: datetime, step: int
) -> None:
    """A price per day and band for each canteen: 65 cents in band A, `step` more per band."""
    session.execute(
        insert(Tariff),
        [
            {"activity_id": canteen, "band": band, "unit": Unit.JOUR,
             "price_cents": 65 + step * index, "valid_from": valid_from, "created_at": now}
            for canteen in canteens
            for index, band in enumerate(BANDS)
        ],
    )  # fmt: skip


def open_canteens(session: Session, service_id: int, count: int, prefix: str = "") -> list[int]:
    """`count` canteens, one per school site, with their sessions of the year; their ids."""
    calendar, sites = WorkingCalendar(), []
    for number in range(count):
        activity = Activity(
            service_id=service_id, code=f"{prefix}cantine-{number}", name=f"Cantine {number}",
            kind=ActivityKind.CANTINE, site=f"École {number}",
            cutoff_rule=CutoffRule.JOURS_OUVRES, cutoff_count=1,
            cutoff_time=clock_time(10, 0), capacity=None, price_category="repas",
        )  # fmt: skip
        session.add(activity)
        session.flush()
        timetable = activities.Timetable(
            YEAR_START, YEAR_END, CANTEEN_DAYS, clock_time(11, 45), clock_time(13, 30)
        )
        activities.open_sessions(session, calendar, activity.id, timetable)
        sites.append(activity.id)
    session.commit()
    return sites


def enrol_all(session: Session, site: int, children: Sequence[Child], now: datetime) -> None:
    rows = [
        {"activity_id": site, "foyer_id": foyer_id, "member_id": member_id,
         "starts_on": YEAR_START, "ends_on": YEAR_END, "created_at": now}
        for member_id, foyer_id in children
    ]  # fmt: skip
    for start in range(0, len(rows), BATCH):
        session.execute(insert(Enrolment), rows[start : start + BATCH])
    session.commit()


def book_year(session: Session, site: int, children: Sequence[Child], now: datetime) -> int:
    """Book every child on every session of the site's year; how many bookings."""
    slots = session.scalars(
        select(ActivitySession.id).where(ActivitySession.activity_id == site)
    ).all()
    written = 0
    for slot in slots:
        rows = [
            {"session_id": slot, "foyer_id": foyer_id, "member_id": member_id,
             "state": BookingState.RESERVEE, "created_at": now, "updated_at": now}
            for member_id, foyer_id in children
        ]  # fmt: skip
        for start in range(0, len(rows), BATCH):
            session.execute(insert(Booking), rows[start : start + BATCH])
        written += len(rows)
    session.execute(
        text("UPDATE activity_sessions SET taken = :n WHERE activity_id = :a"),
        {"n": len(children), "a": site},
    )
    session.commit()
    return written


def ensure_school_year(session: Session, service_id: int, now: datetime) -> int:
    """The load town's canteens, enrolments and a year of bookings (once); how many bookings."""
    if session.scalar(select(Activity.id).where(Activity.code == "ville-cantine-0")) is not None:
        return 0
    sites = open_canteens(session, service_id, SITES, prefix="ville-")
    price_canteens(session, sites, YEAR_START, now, step=83)
    children: dict[int, list[Child]] = {site: [] for site in sites}
    for member_id, foyer_id in session.execute(
        select(FoyerMember.id, FoyerMember.foyer_id).where(FoyerMember.role == MemberRole.ENFANT)
    ):
        children[sites[foyer_id % SITES]].append((member_id, foyer_id))
    written = 0
    for number, site in enumerate(sites):
        enrol_all(session, site, children[site], now)
        if number < BOOKED_SITES:
            written += book_year(session, site, children[site], now)
    return written
