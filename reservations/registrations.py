"""What bookings take in from closed demandes: enrolments and reported absences.

Bookings sit above procedures, which do not know they exist: the worker's `registrations`
job reads the demandes closed since it last ran and applies each once (`AppliedDemande`).

- An accepted after-school and canteen registration (`periscolaire`) enrols the child, for
  the school year it is for, in each activity ticked on the form at the child's school.
- An accepted school transport registration (`transport_scolaire`) enrols the child, for
  the school year, in the transport activity of the school chosen on the form: its tariff
  (a monthly flat fee per family-quotient band) is billed by the monthly run.
- An accepted holiday-centre registration (`centre_loisirs_vacances`) enrols the child for
  each week asked that the booking rules still allow, and books its days (`holidays`).
- An absence justified with a medical certificate (`justificatif_absence`) is recorded: a
  justified absence is never billed; a refused one stays an absence billed per the
  activity's rule (see `billable`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from coffre.clock import PARIS, Clock, local_today
from coffre.models import FoyerMember, MemberRole
from procedures.catalogue import definition_of
from procedures.models import Demande, DemandeStatus, ProcedureVersion
from procedures.working_hours import WorkingCalendar
from reservations import bookings, holidays
from reservations.models import (
    Activity,
    ActivityKind,
    AppliedDemande,
    Enrolment,
    ReportedAbsence,
)

REGISTRATION = "periscolaire"
TRANSPORT = "transport_scolaire"
ABSENCE = "justificatif_absence"
CLOSED = (DemandeStatus.ACCEPTEE, DemandeStatus.REFUSEE)
# The registration form's boxes and the kind of activity each enrols in.
KIND_OF_FIELD = {
    "cantine": ActivityKind.CANTINE,
    "garderie_matin": ActivityKind.PERISCOLAIRE_MATIN,
    "garderie_soir": ActivityKind.PERISCOLAIRE_SOIR,
    "centre_loisirs_mercredi": ActivityKind.MERCREDI,
}
BATCH = 200


@dataclass(frozen=True)
class SchoolYear:
    first_day: date
    last_day: date


def school_year(day: date, season_start: tuple[int, int], renewal_open: bool = False) -> SchoolYear:
    """The school year a registration made on `day` is for: the one in progress, or the
    coming one while the renewal window is open (registrations for next year)."""
    start = date(day.year, *season_start)
    if day < start and not renewal_open:
        start = date(day.year - 1, *season_start)
    return SchoolYear(start, date(start.year + 1, *season_start) - timedelta(days=1))


def apply_closed(session: Session, clock: Clock) -> int:
    """Take in the next batch of demandes closed and not taken in yet; how many (committed)."""
    rows = session.execute(
        select(Demande, ProcedureVersion.code)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .outerjoin(AppliedDemande, AppliedDemande.demande_id == Demande.id)
        .where(
            ProcedureVersion.code.in_((REGISTRATION, TRANSPORT, ABSENCE, holidays.CODE)),
            Demande.status.in_(CLOSED),
            AppliedDemande.demande_id.is_(None),
        )
        .order_by(Demande.id)
        .limit(BATCH)
    ).all()
    for demande, code in rows:
        if code in (REGISTRATION, TRANSPORT):
            outcome = _enrol(session, clock, demande)
        elif code == holidays.CODE:
            context = bookings.Context(clock=clock, calendar=WorkingCalendar())
            outcome = holidays.take_in(session, context, demande)
        else:
            outcome = _absence(session, clock, demande)
        session.add(AppliedDemande(demande_id=demande.id, applied_at=clock.now(), outcome=outcome))
    session.commit()
    return len(rows)


def _child(session: Session, demande: Demande, answers: dict[str, Any]) -> FoyerMember | None:
    value = str(answers.get("enfant", ""))
    child = session.get(FoyerMember, int(value)) if value.isdigit() else None
    if child is None or child.foyer_id != demande.foyer_id or child.role is not MemberRole.ENFANT:
        return None
    return child


def _enrol(session: Session, clock: Clock, demande: Demande) -> str:
    answers = json.loads(demande.form_data or "{}")
    child = _child(session, demande, answers)
    if demande.status is not DemandeStatus.ACCEPTEE or child is None:
        return "rien"
    definition = definition_of(demande.version)
    if definition.code == TRANSPORT:  # the pass is for the school chosen on the form
        kinds, site = [ActivityKind.TRANSPORT], str(answers.get("ecole") or "")
    else:
        kinds = [kind for field, kind in KIND_OF_FIELD.items() if _ticked(answers.get(field))]
        site = child.school or ""
    if not site:
        return "rien"
    sent = demande.submitted_at
    day = local_today(clock) if sent is None else sent.astimezone(PARIS).date()
    renewing = definition.renewal is not None and definition.renewal.is_open(day)
    year = school_year(day, definition.season_start or (9, 1), renewing)
    starts_on = max(year.first_day, local_today(clock))
    if starts_on > year.last_day:
        return "rien"  # a registration for a school year already over
    enrolled = 0
    for activity in session.scalars(
        select(Activity).where(Activity.kind.in_(kinds), Activity.site == site)
    ):
        if not activity.admits(child.birth_date, starts_on) or _already(
            session, activity.id, child.id, starts_on, year.last_day
        ):
            continue
        session.add(
            Enrolment(
                activity_id=activity.id, foyer_id=child.foyer_id, member_id=child.id,
                starts_on=starts_on, ends_on=year.last_day, created_at=clock.now(),
                demande_id=demande.id,
            )
        )  # fmt: skip
        enrolled += 1
    return "inscrit" if enrolled else "rien"


def _ticked(value: Any) -> bool:
    return str(value).lower() in {"true", "1", "on", "oui", "yes"}


def _already(session: Session, activity_id: int, member_id: int, first: date, last: date) -> bool:
    """An enrolment of the child in the activity already covers part of the period."""
    return (
        session.scalar(
            select(Enrolment.id)
            .where(
                Enrolment.activity_id == activity_id,
                Enrolment.member_id == member_id,
                Enrolment.starts_on <= last,
                Enrolment.ends_on >= first,
            )
            .limit(1)
        )
        is not None
    )


def _absence(session: Session, clock: Clock, demande: Demande) -> str:
    answers = json.loads(demande.form_data or "{}")
    child = _child(session, demande, answers)
    first, last = _day(answers.get("date_debut")), _day(answers.get("date_fin"))
    if child is None or first is None or last is None or last < first:
        return "rien"
    session.add(
        ReportedAbsence(
            foyer_id=demande.foyer_id, member_id=child.id, first_day=first, last_day=last,
            justified=demande.status is DemandeStatus.ACCEPTEE, demande_id=demande.id,
            recorded_at=clock.now(),
        )
    )  # fmt: skip
    return "absence"


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def justified_days(
    session: Session, member_ids: list[int], first: date, last: date
) -> set[tuple[int, date]]:
    """(child, day) pairs covered by a justified absence between two days."""
    rows = session.scalars(
        select(ReportedAbsence).where(
            ReportedAbsence.member_id.in_(member_ids),
            ReportedAbsence.justified.is_(True),
            and_(ReportedAbsence.first_day <= last, ReportedAbsence.last_day >= first),
        )
    )
    covered: set[tuple[int, date]] = set()
    for absence in rows:
        day = max(absence.first_day, first)
        while day <= min(absence.last_day, last):
            covered.add((absence.member_id, day))
            day += timedelta(days=1)
    return covered
