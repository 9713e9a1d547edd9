"""Attendance on site: the day's sheet of a session, one tap per child, closed and signed.

An agent works only on the sessions of its services' activities. A mark repeated (a tap
sent twice by a tablet back online) changes nothing; once the sheet is closed, a change
needs a reason and is journaled as a correction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import FoyerMember
from procedures.inbox.spreadsheet import Cell, csv_text
from reservations.errors import BookingNotFound, BookingRefused
from reservations.models import (
    Activity,
    ActivitySession,
    AttendanceEvent,
    AttendanceMark,
    AttendanceSheet,
    BillingRule,
    Booking,
    BookingState,
)
from reservations.registrations import justified_days

REASON_MAX = 300


@dataclass(frozen=True)
class Agent:
    """The agent taking attendance: its account and the services it works for."""

    account_id: int
    service_ids: frozenset[int]


@dataclass(frozen=True)
class Row:
    member_id: int
    first_name: str
    last_name: str
    has_pai: bool
    allergies: str | None
    present: bool | None  # None: not marked yet
    justified_absence: bool = False  # the family sent a certificate the service accepted


@dataclass(frozen=True)
class Sheet:
    session_id: int
    activity: str
    site: str
    day: date
    starts_at: str
    ends_at: str
    rows: Sequence[Row]
    closed_at: datetime | None

    @property
    def unmarked(self) -> int:
        return sum(row.present is None for row in self.rows)


def sessions_of_day(session: Session, agent: Agent, day: date) -> list[ActivitySession]:
    """The sessions of the agent's services on that day, by site and activity."""
    return list(
        session.scalars(
            select(ActivitySession)
            .join(Activity, Activity.id == ActivitySession.activity_id)
            .where(ActivitySession.day == day, Activity.service_id.in_(agent.service_ids))
            .order_by(Activity.site, Activity.name)
        )
    )


def sheet(session: Session, agent: Agent, session_id: int) -> Sheet:
    """The booked children of the session, with their PAI and what was marked."""
    slot = _slot(session, agent, session_id)
    marks = {
        mark.member_id: mark.present
        for mark in session.scalars(
            select(AttendanceMark).where(AttendanceMark.session_id == slot.id)
        )
    }
    children = session.scalars(
        select(FoyerMember)
        .join(Booking, Booking.member_id == FoyerMember.id)
        .where(Booking.session_id == slot.id, Booking.state == BookingState.RESERVEE)
        .order_by(FoyerMember.last_name, FoyerMember.first_name, FoyerMember.id)
    ).all()
    justified = justified_days(session, [c.id for c in children], slot.day, slot.day)
    closed = session.scalar(
        select(AttendanceSheet.closed_at).where(AttendanceSheet.session_id == slot.id)
    )
    return Sheet(
        session_id=slot.id,
        activity=slot.activity.name,
        site=slot.activity.site,
        day=slot.day,
        starts_at=slot.starts_at.strftime("%H:%M"),
        ends_at=slot.ends_at.strftime("%H:%M"),
        rows=[
            Row(
                c.id,
                c.first_name,
                c.last_name,
                c.has_pai,
                c.allergies,
                marks.get(c.id),
                (c.id, slot.day) in justified,
            )
            for c in children
        ],
        closed_at=closed,
    )


def is_closed(session: Session, agent: Agent, session_id: int) -> bool:
    """Whether the session's sheet is closed (a change then is a correction, with a reason)."""
    return _closed(session, _slot(session, agent, session_id).id)


def mark(
    session: Session, clock: Clock, agent: Agent, session_id: int, member_id: int, present: bool
) -> None:
    """Record one tap; the same tap twice is recorded once. Refused once the sheet is closed."""
    slot = _slot(session, agent, session_id)
    if _closed(session, slot.id):
        raise BookingRefused("La feuille de présence est close : corrigez-la avec un motif.")
    action = "present" if present else "absent"
    try:
        _set(session, clock, agent, slot, member_id, present, action)
        session.commit()
    except IntegrityError:
        # The same tap from another connection got there first: take its mark as the base.
        session.rollback()
        _set(session, clock, agent, _slot(session, agent, session_id), member_id, present, action)
        session.commit()


def close_sheet(session: Session, clock: Clock, agent: Agent, session_id: int) -> None:
    """Close and sign the sheet once every booked child is marked."""
    current = sheet(session, agent, session_id)
    if current.closed_at is not None:
        session.rollback()
        return
    if current.unmarked:
        raise BookingRefused(
            f"Il reste {current.unmarked} enfant(s) sans pointage : pointez-les avant de clore."
        )
    now = clock.now()
    session.add(AttendanceSheet(session_id=session_id, closed_at=now, account_id=agent.account_id))
    session.add(
        AttendanceEvent(
            session_id=session_id, member_id=None, at=now, action="cloture",
            present=None, reason=None, account_id=agent.account_id,
        )
    )  # fmt: skip
    session.commit()


def correct(
    session: Session,
    clock: Clock,
    agent: Agent,
    session_id: int,
    member_id: int,
    present: bool,
    reason: str,
) -> None:
    """Change a past day's mark, with the reason (journaled)."""
    slot = _slot(session, agent, session_id)
    reason = reason.strip()
    if not reason:
        raise BookingRefused("Indiquez le motif de la correction.")
    if len(reason) > REASON_MAX:
        raise BookingRefused(f"Le motif ne doit pas dépasser {REASON_MAX} caractères.")
    _set(session, clock, agent, slot, member_id, present, "correction", reason)
    session.commit()


def billable(present: bool | None, justified: bool, activity: Activity) -> bool:
    """Whether a booked day is billed, by the activity's rule: every day booked, only the
    days attended, or those and the absences without a justification. A justified absence
    never is; `bills_unjustified_absence` off spares every absence."""
    if present:
        return True
    if justified:
        return False
    if present is None:
        return activity.billing_rule is BillingRule.RESERVATION
    return activity.billing_rule is not BillingRule.PRESENCE and activity.bills_unjustified_absence


def month_csv(session: Session, agent: Agent, site: str, year: int, month: int) -> str:
    """A site's attendance for a month, one line per booked child and day (for billing)."""
    first = date(year, month, 1)
    last = date(year + month // 12, month % 12 + 1, 1)
    rows = session.execute(
        select(ActivitySession.day, Activity, FoyerMember, AttendanceMark.present)
        .join(Activity, Activity.id == ActivitySession.activity_id)
        .join(Booking, Booking.session_id == ActivitySession.id)
        .join(FoyerMember, FoyerMember.id == Booking.member_id)
        .outerjoin(
            AttendanceMark,
            (AttendanceMark.session_id == ActivitySession.id)
            & (AttendanceMark.member_id == Booking.member_id),
        )
        .where(
            Activity.site == site,
            Activity.service_id.in_(agent.service_ids),
            ActivitySession.day >= first,
            ActivitySession.day < last,
            Booking.state == BookingState.RESERVEE,
        )
        .order_by(ActivitySession.day, Activity.name, FoyerMember.last_name, FoyerMember.id)
    ).all()
    justified = justified_days(session, sorted({row[2].id for row in rows}), first, last)
    header = ["date", "activite", "nom", "prenom", "pai", "presence", "justifiee", "facturee"]
    lines: list[list[Cell]] = []
    for day, activity, child, present in rows:
        excused = (child.id, day) in justified
        lines.append(
            [
                day.isoformat(),
                activity.name,
                child.last_name,
                child.first_name,
                "oui" if child.has_pai else "non",
                "" if present is None else ("present" if present else "absent"),
                "oui" if excused else "non",
                "oui" if billable(present, excused, activity) else "non",
            ]
        )
    return csv_text(header, lines)


def _set(
    session: Session,
    clock: Clock,
    agent: Agent,
    slot: ActivitySession,
    member_id: int,
    present: bool,
    action: str,
    reason: str | None = None,
) -> None:
    booked = session.scalar(
        select(Booking.id).where(
            Booking.session_id == slot.id,
            Booking.member_id == member_id,
            Booking.state == BookingState.RESERVEE,
        )
    )
    if booked is None:
        raise BookingNotFound("Cet enfant n'est pas réservé sur cette séance.")
    existing = session.scalar(
        select(AttendanceMark).where(
            AttendanceMark.session_id == slot.id, AttendanceMark.member_id == member_id
        )
    )
    if existing is not None and existing.present == present:
        session.rollback()
        return  # the same tap again: nothing to count twice
    now = clock.now()
    if existing is None:
        session.add(
            AttendanceMark(
                session_id=slot.id, member_id=member_id, present=present,
                recorded_at=now, account_id=agent.account_id,
            )
        )  # fmt: skip
    else:
        existing.present, existing.recorded_at = present, now
        existing.account_id = agent.account_id
    session.add(
        AttendanceEvent(
            session_id=slot.id, member_id=member_id, at=now, action=action,
            present=present, reason=reason, account_id=agent.account_id,
        )
    )  # fmt: skip


def _slot(session: Session, agent: Agent, session_id: int) -> ActivitySession:
    slot = session.get(ActivitySession, session_id)
    if slot is None or slot.activity.service_id not in agent.service_ids:
        raise BookingNotFound("Cette séance est introuvable.")
    return slot


def _closed(session: Session, session_id: int) -> bool:
    found = session.scalar(
        select(AttendanceSheet.id).where(AttendanceSheet.session_id == session_id)
    )
    return found is not None
