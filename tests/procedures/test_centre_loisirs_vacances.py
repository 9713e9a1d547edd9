"""The holiday-centre registration driven end to end: the family asks for weeks of the
Toussaint holidays, the agent validates or refuses, and on acceptance the registrations job
enrols the child and books each week the booking rules still allow (a full, closed or late
week refused with its reason), the days billed by the monthly run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from coffre.vault import Vault
from facturation import run
from facturation.models import Invoice, Unit
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.errors import Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus
from procedures.tasks import AgentActor
from procedures.working_hours import WorkingCalendar
from reservations import activities, bookings, holidays, registrations
from reservations.models import (
    Activity,
    ActivityKind,
    ActivitySession,
    AppliedDemande,
    Booking,
    BookingState,
    CutoffRule,
    Enrolment,
)
from tests.coffre.conftest import deposit, make_foyer, pdf_of
from tests.factories import make_service
from tests.facturation.scene import grid
from tests.procedures.flows import agent_of, child_of, open_task, publish, templates_sent, work

CODE = "centre_loisirs_vacances"
FIRST_WEEK, SECOND_WEEK = date(2026, 10, 19), date(2026, 10, 26)  # the Toussaint holidays


@pytest.fixture
def scolaire(db_session: Session) -> Service:
    return make_service(db_session, code="scolaire")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    publish(db_session, clock, CODE)
    return agent_of(db_session, clock, scolaire)


@pytest.fixture
def centre(db_session: Session, scolaire: Service, foyer: Foyer) -> Activity:
    """The holiday centre, open Monday to Friday of both weeks, two places a day."""
    activity = Activity(
        service_id=scolaire.id, code="loisirs-vacances", name="Accueil de loisirs du Parc",
        kind=ActivityKind.VACANCES, site="Centre de loisirs du Parc",
        cutoff_rule=CutoffRule.JOURS_CALENDAIRES, cutoff_count=7, cutoff_time=time(12, 0),
        capacity=2, price_category="vacances", min_age=3, max_age=11,
    )  # fmt: skip
    db_session.add(activity)
    db_session.flush()
    timetable = activities.Timetable(
        FIRST_WEEK, date(2026, 10, 30), frozenset(range(5)), time(8, 30), time(17, 30)
    )
    activities.open_sessions(db_session, WorkingCalendar(), activity.id, timetable)
    for member in foyer.members:
        if member.role is MemberRole.ENFANT:
            member.birth_date = date(2019, 5, 21)
    db_session.commit()
    return activity


def context(clock: FrozenClock) -> bookings.Context:
    return bookings.Context(clock=clock, calendar=WorkingCalendar())


def submitted(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    weeks: int = 1,
    day: date = FIRST_WEEK,
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, CODE)
    record = deposit(
        vault, session, foyer, pdf_of(8200), type_code="carnet_vaccination",
        member_id=child_of(foyer),
    )  # fmt: skip
    answers = {
        "enfant": str(child_of(foyer)),
        "semaine": day.isoformat(),
        "nombre_semaines": str(weeks),
    }
    return demandes.submit(session, ctx, family, draft.id, answers, [record.id])


def fill(session: Session, clock: FrozenClock, scolaire: Service, centre: Activity) -> None:
    """Another family's two children take both places of the second week's Wednesday."""
    other = make_foyer(session, clock, "Durand")
    other.members.append(FoyerMember(role=MemberRole.ENFANT, first_name="Noé", last_name="D"))
    session.flush()
    staff = bookings.Booker(account_id=None, channel=bookings.Channel.AGENT)
    wednesday = session.scalars(
        select(ActivitySession).where(ActivitySession.day == date(2026, 10, 28))
    ).one()
    for child in (m for m in other.members if m.role is MemberRole.ENFANT):
        child.birth_date = date(2018, 1, 1)
        activities.enrol(session, clock, centre.id, child.id, SECOND_WEEK, date(2026, 10, 30))
        session.commit()
        bookings.book(session, context(clock), staff, child.id, wednesday.id)


def booked_days(session: Session, foyer: Foyer) -> list[date]:
    return list(
        session.scalars(
            select(ActivitySession.day)
            .join(Booking, Booking.session_id == ActivitySession.id)
            .where(Booking.foyer_id == foyer.id, Booking.state == BookingState.RESERVEE)
            .order_by(ActivitySession.day)
        )
    )


def family_line(session: Session, demande: Demande) -> DemandeEvent:
    return session.scalars(
        select(DemandeEvent).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "vacances_reservees"
        )
    ).one()


@pytest.mark.usefixtures("centre")
def test_a_validated_week_is_enrolled_booked_and_billed(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
    centre: Activity,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)
    [week] = holidays.study(db_session, context(clock), demande)
    assert (week.monday, week.activity, week.places_left, week.refusal) == (
        FIRST_WEEK, centre, 2, None,
    )  # fmt: skip
    assert open_task(db_session, demande).spec_id == "valider_inscription"

    demande = work(db_session, ctx, agent, demande, {"decision": "valider"})
    assert demande.status is DemandeStatus.ACCEPTEE
    assert registrations.apply_closed(db_session, clock) == 1

    [enrolment] = db_session.scalars(select(Enrolment)).all()
    assert (enrolment.starts_on, enrolment.ends_on, enrolment.demande_id) == (
        FIRST_WEEK, date(2026, 10, 23), demande.id,
    )  # fmt: skip
    assert booked_days(db_session, foyer) == [date(2026, 10, d) for d in range(19, 24)]
    line = family_line(db_session, demande)
    assert not line.internal
    assert line.comment == (
        "Semaine du 19 octobre 2026 : 5 jour(s) réservé(s) à « Accueil de loisirs du Parc »."
    )
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]
    assert registrations.apply_closed(db_session, clock) == 0  # taken in once

    grid(db_session, clock, centre, Unit.JOUR)
    foyer.tranche_qf, foyer.qf_valid_until = "B", date(2027, 8, 31)
    clock.current = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    run.emit_entity(db_session, clock, scolaire.entity, date(2026, 10, 1))
    [invoice] = db_session.scalars(select(Invoice).where(Invoice.foyer_id == foyer.id)).all()
    assert [(line.activity_id, line.unit, line.amount_cents) for line in invoice.lines] == [
        (centre.id, Unit.JOUR, 5 * 120)
    ]


def test_a_full_week_is_refused_clearly_and_the_open_one_booked(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
    centre: Activity,
) -> None:
    fill(db_session, clock, scolaire, centre)
    demande = submitted(db_session, ctx, family, vault, foyer, weeks=2, day=date(2026, 10, 21))
    study = holidays.study(db_session, context(clock), demande)
    assert [(week.monday, week.refusal) for week in study] == [
        (FIRST_WEEK, None),
        (SECOND_WEEK, "« Accueil de loisirs du Parc » est complet la semaine du 26 octobre 2026."),
    ]

    work(db_session, ctx, agent, demande, {"decision": "valider"})
    registrations.apply_closed(db_session, clock)

    assert booked_days(db_session, foyer) == [date(2026, 10, d) for d in range(19, 24)]
    assert family_line(db_session, demande).comment.endswith(
        "« Accueil de loisirs du Parc » est complet la semaine du 26 octobre 2026. "
        "Cette semaine n'est pas réservée."
    )
    waiting = db_session.scalars(select(Booking).where(Booking.state == BookingState.ATTENTE))
    assert waiting.all() == []  # a full week is refused, never put on the waiting list


@pytest.mark.usefixtures("centre")
def test_the_agent_refuses_and_nothing_is_booked(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)
    reason = "Le centre est complet ces semaines-là."

    demande = work(db_session, ctx, agent, demande, {"decision": "refuser", "motif": reason})

    assert demande.status is DemandeStatus.REFUSEE
    decision = db_session.scalars(
        select(DemandeEvent).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "decision"
        )
    ).one()
    assert decision.comment == reason
    assert registrations.apply_closed(db_session, clock) == 1
    assert db_session.scalars(select(Enrolment)).all() == []
    assert db_session.get(AppliedDemande, demande.id).outcome == "rien"  # type: ignore[union-attr]


@pytest.mark.usefixtures("agent")
def test_the_booking_rules_refuse_a_late_a_closed_an_unopened_week_and_the_wrong_age(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    centre: Activity,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer, weeks=3)
    for slot in db_session.scalars(
        select(ActivitySession).where(ActivitySession.day >= SECOND_WEEK)
    ):
        slot.closed_reason = "Travaux"
    clock.current = datetime(2026, 10, 14, 8, 0, tzinfo=UTC)

    refusals = [week.refusal for week in holidays.study(db_session, context(clock), demande)]

    assert refusals == [
        "Les inscriptions pour la semaine du 19 octobre 2026 sont closes depuis le "
        "12 octobre 2026.",
        "« Accueil de loisirs du Parc » est fermé la semaine du 26 octobre 2026.",
        "Le centre de loisirs n'est pas ouvert la semaine du 2 novembre 2026.",
    ]
    centre.min_age = 8
    clock.current = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    [week, *_] = holidays.study(db_session, context(clock), demande)
    assert (
        week.refusal
        == "Lou n'a pas l'âge demandé pour « Accueil de loisirs du Parc » (de 8 à 11 ans)."
    )


def test_the_child_s_vaccination_record_is_required(
    db_session: Session, ctx: EngineContext, family: FamilyActor, agent: AgentActor, foyer: Foyer
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, CODE)
    answers = {"enfant": str(child_of(foyer)), "semaine": "2026-10-19", "nombre_semaines": "1"}

    with pytest.raises(Incomplete):
        demandes.submit(db_session, ctx, family, draft.id, answers, [])


@pytest.mark.parametrize(
    ("answers", "mondays"),
    [
        ({"semaine": "2026-10-21", "nombre_semaines": "2"}, [FIRST_WEEK, SECOND_WEEK]),
        ({"semaine": "2026-10-25"}, [FIRST_WEEK]),  # a Sunday: its week
        ({"semaine": "pas une date"}, []),
    ],
)
def test_the_weeks_asked_are_counted_from_the_monday(
    answers: dict[str, str], mondays: list[date]
) -> None:
    assert holidays.asked_weeks(answers) == mondays
