"""Holiday-centre registrations (`centre_loisirs_vacances`): the weeks a family asks for, what
the booking rules say of each, and the days booked once the service accepted the demande.

The family names the child, a day of the first week and how many weeks in a row. A week is
the centre's sessions from Monday to Sunday, as the service opened them: the weeks offered
are the ones the centre is open, with no list of dates to keep up to date each year. The
rules are the bookings package's: the child's age (`Activity.admits`), closed days, each
day's cut-off (`cutoff`), and its places. A week is taken whole or not at all: a week with
a day full, past its cut-off or closed is refused with its reason, never put on a waiting
list. The agent who validates reads each week's study (`study`); on acceptance the
registrations job (`take_in`) enrols the child for each week still open and books its days,
billed per day by the monthly run, and tells the family in its demande's history what was
booked and what was not, and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.models import FoyerMember, MemberRole
from procedures.history import EngineContext, record_event
from procedures.models import Demande, DemandeStatus
from reservations import bookings
from reservations.errors import BookingError
from reservations.models import (
    Activity,
    ActivityKind,
    ActivitySession,
    Booking,
    BookingState,
    Channel,
    Enrolment,
)

CODE = "centre_loisirs_vacances"
MAX_WEEKS = 8  # a summer
# The registrations job books on behalf of the service that accepted the demande.
SERVICE = bookings.Booker(account_id=None, channel=Channel.AUTOMATIQUE)
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")  # fmt: skip


@dataclass(frozen=True)
class Week:
    """What the booking rules say of one week asked for."""

    monday: date
    activity: Activity | None  # the centre that admits the child and is open that week
    days: tuple[ActivitySession, ...]  # its sessions that week, closed ones left out
    places_left: int | None  # the fewest places left on one of its days; None: no limit
    refusal: str | None  # why the week cannot be taken, in French; None: it can

    @property
    def label(self) -> str:
        return f"semaine du {day_fr(self.monday)}"


def day_fr(day: date) -> str:
    """« 19 octobre 2026 »."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def asked_weeks(answers: Mapping[str, Any]) -> list[date]:
    """The Mondays of the weeks asked for: the first one's, then the following ones."""
    try:
        first = date.fromisoformat(str(answers.get("semaine")))
        count = int(str(answers.get("nombre_semaines") or 1))
    except ValueError:
        return []
    monday = first - timedelta(days=first.weekday())
    return [monday + timedelta(weeks=n) for n in range(max(1, min(count, MAX_WEEKS)))]


def child_of(session: Session, demande: Demande) -> FoyerMember | None:
    """The child the demande is for, if it is a child of the demande's foyer."""
    value = str(json.loads(demande.form_data or "{}").get("enfant", ""))
    child = session.get(FoyerMember, int(value)) if value.isdigit() else None
    if child is None or child.foyer_id != demande.foyer_id or child.role is not MemberRole.ENFANT:
        return None
    return child


def study(session: Session, ctx: bookings.Context, demande: Demande) -> list[Week]:
    """Each week the demande asks for, as the booking rules see it now."""
    child = child_of(session, demande)
    if child is None:
        return []
    answers = json.loads(demande.form_data or "{}")
    return [study_week(session, ctx, child, monday) for monday in asked_weeks(answers)]


def study_week(session: Session, ctx: bookings.Context, child: FoyerMember, monday: date) -> Week:
    """Whether the child can have the week at a holiday centre, and where."""
    slots = session.scalars(
        select(ActivitySession)
        .join(Activity, Activity.id == ActivitySession.activity_id)
        .where(
            Activity.kind == ActivityKind.VACANCES,
            ActivitySession.day.between(monday, monday + timedelta(days=6)),
        )
        .order_by(ActivitySession.activity_id, ActivitySession.day)
    ).all()
    label = f"semaine du {day_fr(monday)}"
    if not slots:
        return Week(monday, None, (), None, f"Le centre de loisirs n'est pas ouvert la {label}.")
    centres = list(dict.fromkeys(slot.activity for slot in slots))
    admitting = [centre for centre in centres if centre.admits(child.birth_date, monday)]
    if not admitting:
        centre = centres[0]
        return Week(
            monday, centre, (), None,
            f"{child.first_name} n'a pas l'âge demandé pour « {centre.name} » ({centre.ages}).",
        )  # fmt: skip
    weeks = [_centre_week(session, ctx, child, monday, centre, slots) for centre in admitting]
    return next((week for week in weeks if week.refusal is None), weeks[0])


def _centre_week(
    session: Session,
    ctx: bookings.Context,
    child: FoyerMember,
    monday: date,
    centre: Activity,
    slots: Any,
) -> Week:
    days = tuple(s for s in slots if s.activity_id == centre.id and not s.closed_reason)
    label = f"semaine du {day_fr(monday)}"
    if not days:
        return Week(monday, centre, (), None, f"« {centre.name} » est fermé la {label}.")
    limit = bookings.change_deadline(ctx, days[0])
    if ctx.clock.now() > limit:
        return Week(
            monday, centre, days, None,
            f"Les inscriptions pour la {label} sont closes depuis le {day_fr(limit.date())}.",
        )  # fmt: skip
    held = _held_by(session, child, days)
    left = [s.capacity - s.taken for s in days if s.capacity is not None and s.id not in held]
    if any(places <= 0 for places in left):
        return Week(monday, centre, days, 0, f"« {centre.name} » est complet la {label}.")
    return Week(monday, centre, days, min(left) if left else None, None)


def _held_by(session: Session, child: FoyerMember, days: tuple[ActivitySession, ...]) -> set[int]:
    """The sessions on which the child already holds a place."""
    return set(
        session.scalars(
            select(Booking.session_id).where(
                Booking.member_id == child.id,
                Booking.session_id.in_([slot.id for slot in days]),
                Booking.state.in_(bookings.HOLDING),
            )
        )
    )


def take_in(session: Session, ctx: bookings.Context, demande: Demande) -> str:
    """Enrol the child of an accepted demande for each week still open and book its days;
    the family reads in the demande's history what was booked and what was not."""
    child = child_of(session, demande)
    if demande.status is not DemandeStatus.ACCEPTEE or child is None:
        return "rien"
    lines, booked = [], 0
    for week in study(session, ctx, demande):
        if week.refusal is not None or week.activity is None:
            lines.append(f"{week.refusal} Cette semaine n'est pas réservée.")
            continue
        _enrol(session, ctx, demande, child, week)
        # Each booking commits, and one that finds the day booked already rolls back: the
        # enrolment (and the job's work so far) is committed first.
        session.commit()
        taken, notes = _book(session, ctx, child, week)
        booked += taken
        lines.append(
            f"{week.label.capitalize()} : {taken} jour(s) réservé(s) à « {week.activity.name} »."
            + "".join(f" {note}" for note in notes)
        )
    record_event(
        session, EngineContext(clock=ctx.clock, base_url=ctx.base_url), demande, None,
        "vacances_reservees", "\n".join(lines),
    )  # fmt: skip
    return "inscrit" if booked else "rien"


def _enrol(
    session: Session, ctx: bookings.Context, demande: Demande, child: FoyerMember, week: Week
) -> None:
    assert week.activity is not None
    first, last = week.days[0].day, week.days[-1].day
    covered = session.scalar(
        select(Enrolment.id).where(
            Enrolment.activity_id == week.activity.id,
            Enrolment.member_id == child.id,
            Enrolment.starts_on <= first,
            Enrolment.ends_on >= last,
        )
    )
    if covered is None:
        session.add(
            Enrolment(
                activity_id=week.activity.id, foyer_id=child.foyer_id, member_id=child.id,
                starts_on=first, ends_on=last, created_at=ctx.clock.now(), demande_id=demande.id,
            )
        )  # fmt: skip


def _book(
    session: Session, ctx: bookings.Context, child: FoyerMember, week: Week
) -> tuple[int, list[str]]:
    """Book each day of the week (each commits); how many hold a place, and what went wrong."""
    taken, notes = 0, []
    for slot in week.days:
        try:
            booking = bookings.book(session, ctx, SERVICE, child.id, slot.id)
        except BookingError as refused:
            notes.append(refused.message)
            continue
        if booking.state is BookingState.ATTENTE:  # a place taken since the study
            notes.append(f"Le {day_fr(slot.day)}, plus de place : en liste d'attente.")
        else:
            taken += 1
    return taken, notes
