"""The tables of bookings: activities, their sessions, enrolments, bookings and their journal."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coffre.db import Base
from coffre.models import str_enum


class ActivityKind(StrEnum):
    CRECHE = "creche"
    CANTINE = "cantine"
    PERISCOLAIRE_MATIN = "periscolaire_matin"
    PERISCOLAIRE_SOIR = "periscolaire_soir"
    MERCREDI = "mercredi"
    VACANCES = "vacances"
    TRANSPORT = "transport"  # the school bus of a school, billed as a monthly flat fee


class CutoffRule(StrEnum):
    """How the last moment to change a day is counted (see `reservations.cutoff`)."""

    # `count` working days before the day, at `cutoff_time` ("the working day before at 10:00").
    JOURS_OUVRES = "jours_ouvres"
    # The `count`-th weekday (0 = Monday) of the week before, at `cutoff_time` ("Wednesday for
    # the next week").
    SEMAINE_PRECEDENTE = "semaine_precedente"
    # `count` calendar days before the day, at `cutoff_time` ("three weeks before": 21).
    JOURS_CALENDAIRES = "jours_calendaires"


class BillingRule(StrEnum):
    """Which booked days an activity bills (a justified absence never is)."""

    RESERVATION = "reservation"  # every day booked: attended, absent, or not marked
    PRESENCE = "presence"  # only the days the child was marked present
    PRESENCE_ET_ABSENCE = "presence_et_absence"  # marked present, or absent unjustified


class Activity(Base):
    """Something a service runs on days a child can be booked for: the canteen of a school..."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind))
    site: Mapped[str] = mapped_column(String(200))
    cutoff_rule: Mapped[CutoffRule] = mapped_column(str_enum(CutoffRule))
    cutoff_count: Mapped[int] = mapped_column(Integer)
    cutoff_time: Mapped[time]
    # Places per session when the service does not set one for the day; None: no limit.
    capacity: Mapped[int | None] = mapped_column(Integer)
    # How long a place freed for the first family of the waiting list is held for it.
    offer_hours: Mapped[int] = mapped_column(Integer, default=48, server_default=text("48"))
    # An absence reported after the cut-off without a justificatif is billed (per the
    # activity's rule); a justified one never is.
    bills_unjustified_absence: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    price_category: Mapped[str] = mapped_column(String(60))
    billing_rule: Mapped[BillingRule] = mapped_column(
        str_enum(BillingRule), default=BillingRule.RESERVATION, server_default="reservation"
    )
    # Who may be enrolled: the child's age in full years on the first day of the enrolment
    # (None: no bound). The school condition is the site: a registration enrols a child in
    # the activities of its own school.
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)

    def admits(self, birth_date: date | None, on: date) -> bool:
        """Whether a child born on `birth_date` is of an age for the activity on `on`."""
        if self.min_age is None and self.max_age is None:
            return True
        if birth_date is None:
            return False
        age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
        low_ok = self.min_age is None or age >= self.min_age
        return low_ok and (self.max_age is None or age <= self.max_age)

    @property
    def ages(self) -> str:
        """The age condition in French ("de 3 à 11 ans"), empty without one."""
        if self.min_age is not None and self.max_age is not None:
            return f"de {self.min_age} à {self.max_age} ans"
        if self.min_age is not None:
            return f"à partir de {self.min_age} ans"
        return f"jusqu'à {self.max_age} ans" if self.max_age is not None else ""


class ActivitySession(Base):
    """One day of an activity: its times, its places and how many are taken."""

    __tablename__ = "activity_sessions"
    __table_args__ = (UniqueConstraint("activity_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    day: Mapped[date] = mapped_column(index=True)
    starts_at: Mapped[time]
    ends_at: Mapped[time]
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Places taken: confirmed bookings and places held for a waiting family. Raised only by a
    # conditional UPDATE (`bookings.book`), so it never passes `capacity`.
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    closed_reason: Mapped[str | None] = mapped_column(String(200))

    activity: Mapped[Activity] = relationship()


class Enrolment(Base):
    """A child registered for an activity over a period (after an accepted registration)."""

    __tablename__ = "activity_enrolments"
    __table_args__ = (Index("ix_activity_enrolments_member", "member_id", "activity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"))
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("foyer_members.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    created_at: Mapped[datetime]
    # The accepted registration demande it came from (None: enrolled by the service itself).
    demande_id: Mapped[int | None] = mapped_column(ForeignKey("demandes.id"), index=True)

    activity: Mapped[Activity] = relationship()


class BookingState(StrEnum):
    RESERVEE = "reservee"
    ATTENTE = "attente"  # on the waiting list
    PROPOSEE = "proposee"  # a freed place held for this family until `offer_expires_at`
    ANNULEE = "annulee"


class Channel(StrEnum):
    """Where a change came from."""

    FAMILLE = "famille"
    GUICHET = "guichet"
    AGENT = "agent"
    AUTOMATIQUE = "automatique"  # the worker: an offer that lapsed


class Booking(Base):
    """A child's place (or wait) for one session; one row per child and session."""

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("session_id", "member_id"),
        Index("ix_bookings_waiting", "session_id", "state", "waiting_since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("activity_sessions.id"))
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("foyer_members.id"), index=True)
    state: Mapped[BookingState] = mapped_column(str_enum(BookingState))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The waiting list's order: when the family joined it.
    waiting_since: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None] = mapped_column(index=True)

    session: Mapped[ActivitySession] = relationship()
    events: Mapped[list[BookingEvent]] = relationship(order_by="BookingEvent.id")


class BookingEvent(Base):
    """The journal of bookings: who changed what, when, from which channel."""

    __tablename__ = "booking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(30))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class AttendanceMark(Base):
    """Whether a booked child came to a session, as the agent on site recorded it."""

    __tablename__ = "attendance_marks"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("activity_sessions.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("foyer_members.id"), index=True)
    present: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))


class AttendanceSheet(Base):
    """A session's attendance, closed and signed by the agent: changes then need a reason."""

    __tablename__ = "attendance_sheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("activity_sessions.id"), unique=True)
    closed_at: Mapped[datetime]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))


class AttendanceEvent(Base):
    """The journal of attendance: each mark, closing and correction, with its reason."""

    __tablename__ = "attendance_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("activity_sessions.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("foyer_members.id"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(30))  # present, absent, cloture, correction
    present: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(300))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))


class SharedCustody(Base):
    """A child shared by two homes (garde alternée): one child row in each foyer, and whose
    week it is. Weeks alternate from `first_monday`, which starts a week of the first home."""

    __tablename__ = "shared_custodies"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_member_id: Mapped[int] = mapped_column(ForeignKey("foyer_members.id"), unique=True)
    second_member_id: Mapped[int] = mapped_column(ForeignKey("foyer_members.id"), unique=True)
    first_monday: Mapped[date]
    updated_at: Mapped[datetime]


class ReportedAbsence(Base):
    """Days a child missed, reported by the family after the cut-off with a justificatif.

    `justified` is the agent's decision on the certificate: a justified absence is never
    billed; an unjustified one is billed per its activity's rule."""

    __tablename__ = "reported_absences"
    __table_args__ = (Index("ix_reported_absences_member", "member_id", "first_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    foyer_id: Mapped[int] = mapped_column(ForeignKey("foyers.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("foyer_members.id"))
    first_day: Mapped[date]
    last_day: Mapped[date]
    justified: Mapped[bool] = mapped_column(Boolean)
    demande_id: Mapped[int] = mapped_column(ForeignKey("demandes.id"), unique=True)
    recorded_at: Mapped[datetime]


class AppliedDemande(Base):
    """A closed demande whose outcome bookings took in (enrolments, an absence): once only."""

    __tablename__ = "applied_demandes"

    demande_id: Mapped[int] = mapped_column(ForeignKey("demandes.id"), primary_key=True)
    applied_at: Mapped[datetime]
    # What came of it, for the service: "inscrit", "absence", "rien" (no activity matched).
    outcome: Mapped[str] = mapped_column(String(30))
