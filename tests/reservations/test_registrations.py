"""What bookings take in from closed demandes: a registration enrols, a certificate excuses;
and last year's registration renewed in a few clicks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Document, Foyer, FoyerMember, Grant
from coffre.vault import Vault
from procedures import demandes, renewals
from procedures.demandes import FamilyActor
from procedures.errors import DemandeNotFound, InvalidTransition
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus
from procedures.tasks import AgentActor
from reservations import activities, attendance, bookings, registrations
from reservations.attendance import Agent
from reservations.bookings import Booker, Context
from reservations.calendar import family_week
from reservations.models import (
    ActivityKind,
    AppliedDemande,
    Channel,
    Enrolment,
    ReportedAbsence,
)
from reservations.registrations import SchoolYear, school_year
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.procedures.flows import agent_of, child_of, family_of, publish, work
from tests.procedures.test_periscolaire import form, insurance, vaccinations
from tests.reservations.test_bookings import CALENDAR, MONDAY, make_activity, open_days
from worker.jobs import register_standard_jobs
from worker.loop import Worker

SCHOOL = "École Jules-Ferry"  # the site of `make_activity`'s canteen


@pytest.fixture
def scolaire(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="scolaire")
    for code in ("periscolaire", "justificatif_absence"):
        publish(db_session, clock, code)
    return service


@pytest.fixture
def flow(clock: FrozenClock, vault: Vault) -> EngineContext:
    return EngineContext(clock=clock, vault=vault)


@pytest.fixture
def family(db_session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    child = db_session.get(FoyerMember, child_of(foyer))
    assert child is not None
    child.school = SCHOOL
    return family_of(db_session, clock, foyer)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    return agent_of(db_session, clock, scolaire)


def registered(
    session: Session,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    decision: str = "valider",
    insured_on: date | None = None,
) -> Demande:
    """Canteen and evening care asked for the foyer's child, decided by the agent."""
    child = child_of(foyer)
    draft = demandes.create_draft(session, flow, family, "periscolaire")
    insured = (
        insurance(vault, session, foyer)
        if insured_on is None
        else deposit(
            vault, session, foyer, pdf_of(6200), type_code="attestation_assurance",
            issued_on=insured_on,
        )
    )  # fmt: skip
    ids = [insured.id, vaccinations(vault, session, foyer, child).id]
    demande = demandes.submit(session, flow, family, draft.id, form(child), ids)
    return work(session, flow, agent, demande, {"decision": decision})


def test_an_accepted_registration_enrols_the_child_at_its_school_once(
    db_session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
) -> None:
    canteen = make_activity(db_session, scolaire)
    evening = make_activity(db_session, scolaire, kind=ActivityKind.PERISCOLAIRE_SOIR)
    make_activity(db_session, scolaire, kind=ActivityKind.PERISCOLAIRE_MATIN)  # not asked for
    elsewhere = make_activity(db_session, make_service(db_session), kind=ActivityKind.MERCREDI)
    elsewhere.site = "École Jean-Jaurès"
    demande = registered(db_session, flow, family, agent, vault, foyer)
    assert demande.status is DemandeStatus.ACCEPTEE

    worker = Worker(sessions=sessions, clock=clock, name="registrations")
    register_standard_jobs(worker, vault, None, "https://portail.bellerive.example")
    worker.tick(clock.now())  # the worker's job takes the decision in
    assert registrations.apply_closed(db_session, clock) == 0  # once only

    enrolled = db_session.scalars(select(Enrolment).order_by(Enrolment.activity_id)).all()
    assert [
        (e.activity_id, e.member_id, e.starts_on, e.ends_on, e.demande_id) for e in enrolled
    ] == [
        (canteen.id, child_of(foyer), date(2026, 9, 1), date(2027, 8, 31), demande.id),
        (evening.id, child_of(foyer), date(2026, 9, 1), date(2027, 8, 31), demande.id),
    ]
    open_days(db_session, canteen, MONDAY, MONDAY)
    week = family_week(db_session, Context(clock=clock, calendar=CALENDAR), foyer.id, MONDAY)
    assert [line.name for line in week[0].activities][:1] == ["Cantine de l'école Jules-Ferry"]


def test_a_refused_registration_enrols_no_one(
    db_session: Session,
    clock: FrozenClock,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
) -> None:
    make_activity(db_session, scolaire)
    demande = registered(db_session, flow, family, agent, vault, foyer, "refuser")

    assert registrations.apply_closed(db_session, clock) == 1

    assert db_session.scalars(select(Enrolment)).all() == []
    assert db_session.get(AppliedDemande, demande.id).outcome == "rien"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("day", "renewal_open", "year"),
    [
        (date(2026, 12, 6), False, SchoolYear(date(2026, 9, 1), date(2027, 8, 31))),
        (date(2027, 3, 1), False, SchoolYear(date(2026, 9, 1), date(2027, 8, 31))),
        (date(2027, 6, 1), True, SchoolYear(date(2027, 9, 1), date(2028, 8, 31))),
        (date(2027, 9, 1), False, SchoolYear(date(2027, 9, 1), date(2028, 8, 31))),
    ],
)
def test_a_registration_is_for_the_year_in_progress_or_the_next_one_at_renewal(
    day: date, renewal_open: bool, year: SchoolYear
) -> None:
    assert school_year(day, (9, 1), renewal_open) == year


@pytest.fixture
def booked(
    db_session: Session, clock: FrozenClock, foyer: Foyer, family: FamilyActor, scolaire: Service
) -> dict[date, int]:
    """The child booked at the canteen Monday to Wednesday of the week of 14 September."""
    canteen = make_activity(db_session, scolaire)
    days = open_days(db_session, canteen, MONDAY, MONDAY + timedelta(days=4))
    child = child_of(foyer)
    activities.enrol(db_session, clock, canteen.id, child, MONDAY, date(2027, 7, 3))
    ctx = Context(clock=clock, calendar=CALENDAR)
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        bookings.book(db_session, ctx, Booker(None, Channel.FAMILLE, foyer.id), child, days[day])
    return days


def certificate(session: Session, vault: Vault, foyer: Foyer) -> Document:
    return deposit(
        vault, session, foyer, pdf_of(7000), type_code="certificat_medical",
        member_id=child_of(foyer), issued_on=date(2026, 9, 14),
    )  # fmt: skip


def reported(
    session: Session,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    decision: str,
) -> Demande:
    """An illness on Monday and Tuesday, with the certificate, decided by the agent."""
    draft = demandes.create_draft(session, flow, family, "justificatif_absence")
    answers = {"enfant": str(child_of(foyer)), "date_debut": "2026-09-14", "date_fin": "2026-09-15"}
    sent = demandes.submit(
        session, flow, family, draft.id, answers, [certificate(session, vault, foyer).id]
    )
    return work(session, flow, agent, sent, {"decision": decision})


def test_a_justified_absence_shows_on_both_sides_and_is_not_billed(
    db_session: Session,
    clock: FrozenClock,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
    booked: dict[date, int],
) -> None:
    clock.current = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)  # Monday: too late to cancel
    demande = reported(db_session, flow, family, agent, vault, foyer, "justifiee")
    assert demande.status is DemandeStatus.ACCEPTEE
    registrations.apply_closed(db_session, clock)
    staff = Agent(agent.account_id, frozenset({scolaire.id}))
    for day in (MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)):
        attendance.mark(db_session, clock, staff, booked[day], child_of(foyer), False)

    week = family_week(db_session, Context(clock=clock, calendar=CALENDAR), foyer.id, MONDAY)
    days = week[0].activities[0].days
    assert [(d.justified_absence, d.absence_to_justify) for d in days[:3]] == [
        (True, False), (True, False), (False, False),  # Wednesday can still be cancelled
    ]  # fmt: skip
    assert attendance.sheet(db_session, staff, booked[MONDAY]).rows[0].justified_absence
    lines = attendance.month_csv(db_session, staff, SCHOOL, 2026, 9).splitlines()[1:]
    assert [line.rsplit(";", 3)[1:] for line in lines] == [
        ["absent", "oui", "non"],  # Monday, Tuesday: justified, not billed
        ["absent", "oui", "non"],
        ["absent", "non", "oui"],  # Wednesday: absent without a certificate, billed
    ]


def test_a_certificate_the_service_refuses_leaves_the_absence_billed(
    db_session: Session,
    clock: FrozenClock,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
    booked: dict[date, int],
) -> None:
    clock.current = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)
    demande = reported(db_session, flow, family, agent, vault, foyer, "non_justifiee")
    registrations.apply_closed(db_session, clock)
    staff = Agent(agent.account_id, frozenset({scolaire.id}))
    attendance.mark(db_session, clock, staff, booked[MONDAY], child_of(foyer), False)

    absence = db_session.scalars(select(ReportedAbsence)).one()
    assert (absence.demande_id, absence.justified) == (demande.id, False)
    line = attendance.month_csv(db_session, staff, SCHOOL, 2026, 9).splitlines()[1]
    assert line.endswith(";absent;non;oui")
    # An activity that never bills a missed day does not bill this one either.
    canteen = db_session.scalars(select(Enrolment)).one().activity
    canteen.bills_unjustified_absence = False
    db_session.commit()
    line = attendance.month_csv(db_session, staff, SCHOOL, 2026, 9).splitlines()[1]
    assert line.endswith(";absent;non;non")


def test_last_years_registration_is_renewed_with_its_answers_and_valid_documents(
    db_session: Session,
    clock: FrozenClock,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
) -> None:
    make_activity(db_session, scolaire)
    last_year = registered(db_session, flow, family, agent, vault, foyer)
    assert renewals.renewable(db_session, foyer.id, date(2027, 4, 30)) == []  # not open yet

    clock.current = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)  # the renewal window is open
    # Last year's insurance ends in July, before the new school year: a new one is in the vault.
    new_insurance = deposit(
        vault, db_session, foyer, pdf_of(6100), type_code="attestation_assurance",
        issued_on=date(2027, 5, 2),
    )  # fmt: skip
    [offer] = renewals.renewable(db_session, foyer.id, date(2027, 5, 3))
    assert (offer.demande.id, offer.child.id) == (last_year.id, child_of(foyer))  # type: ignore[union-attr]
    draft = renewals.renew(db_session, flow, family, last_year.id)
    assert renewals.renew(db_session, flow, family, last_year.id).id == draft.id  # twice: one

    answers = json.loads(draft.form_data)
    vaccinations_id = db_session.scalars(
        select(Grant.document_id)
        .join(Document, Document.id == Grant.document_id)
        .where(Grant.demande_id == last_year.id, Document.type_code == "carnet_vaccination")
    ).one()
    assert {k: v for k, v in answers.items() if k != "_documents"} == {
        "enfant": str(child_of(foyer)), "cantine": "True", "garderie_soir": "True",
        "garderie_matin": "False", "centre_loisirs_mercredi": "False", "allergies": "False",
    }  # fmt: skip
    chosen = {int(part) for part in answers["_documents"].split(",")}
    assert chosen == {new_insurance.id, vaccinations_id}  # last year's when still valid

    values = {k: v for k, v in answers.items() if not k.startswith("_")}
    renewal = demandes.submit(db_session, flow, family, draft.id, values, sorted(chosen))
    renewal = work(db_session, flow, agent, renewal, {"decision": "valider"})
    assert renewals.renewable(db_session, foyer.id, date(2027, 5, 3)) == []
    with pytest.raises(InvalidTransition):
        renewals.renew(db_session, flow, family, last_year.id)

    registrations.apply_closed(db_session, clock)
    next_year = db_session.scalars(
        select(Enrolment).where(Enrolment.demande_id == renewal.id)
    ).one()
    assert (next_year.starts_on, next_year.ends_on) == (date(2027, 9, 1), date(2028, 8, 31))


def test_a_registration_of_this_year_or_another_foyers_cannot_be_renewed(
    db_session: Session,
    clock: FrozenClock,
    flow: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    other_foyer: Foyer,
) -> None:
    clock.current = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)
    this_year = registered(
        db_session, flow, family, agent, vault, foyer, insured_on=date(2027, 5, 2)
    )

    assert renewals.renewable(db_session, foyer.id, date(2027, 5, 3)) == []
    with pytest.raises(InvalidTransition):
        renewals.renew(db_session, flow, family, this_year.id)
    stranger = family_of(db_session, clock, other_foyer)
    with pytest.raises(DemandeNotFound):
        renewals.renew(db_session, flow, stranger, this_year.id)
