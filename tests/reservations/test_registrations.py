"""What bookings take in from closed demandes: a registration enrols, a certificate excuses;
and last year's registration renewed in a few clicks."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    CutoffRule,
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


@dataclass(frozen=True)
class Town:
    """The foyer's child at the Jules-Ferry school, its family, and an agent of the
    after-school service, with both procedures published."""

    session: Session
    clock: FrozenClock
    flow: EngineContext
    vault: Vault
    foyer: Foyer
    family: FamilyActor
    agent: AgentActor
    service: Service

    @property
    def child(self) -> int:
        return child_of(self.foyer)

    @property
    def staff(self) -> Agent:
        """The agent, as attendance sees it."""
        return Agent(self.agent.account_id, frozenset({self.service.id}))

    def registered(self, decision: str = "valider", insured_on: date | None = None) -> Demande:
        """Canteen and evening care asked for the child, decided by the agent."""
        session, vault, foyer = self.session, self.vault, self.foyer
        draft = demandes.create_draft(session, self.flow, self.family, "periscolaire")
        insured = (
            insurance(vault, session, foyer)
            if insured_on is None
            else deposit(
                vault, session, foyer, pdf_of(6200), type_code="attestation_assurance",
                issued_on=insured_on,
            )
        )  # fmt: skip
        ids = [insured.id, vaccinations(vault, session, foyer, self.child).id]
        sent = demandes.submit(session, self.flow, self.family, draft.id, form(self.child), ids)
        return work(session, self.flow, self.agent, sent, {"decision": decision})

    def reported(self, decision: str) -> Demande:
        """An illness on Monday and Tuesday, with the certificate, decided by the agent."""
        session = self.session
        draft = demandes.create_draft(session, self.flow, self.family, "justificatif_absence")
        certificate = deposit(
            self.vault, session, self.foyer, pdf_of(7000), type_code="certificat_medical",
            member_id=self.child, issued_on=date(2026, 9, 14),
        )  # fmt: skip
        answers = {"enfant": str(self.child), "date_debut": "2026-09-14", "date_fin": "2026-09-15"}
        sent = demandes.submit(session, self.flow, self.family, draft.id, answers, [certificate.id])
        return work(session, self.flow, self.agent, sent, {"decision": decision})


@pytest.fixture
def town(db_session: Session, clock: FrozenClock, vault: Vault, foyer: Foyer) -> Town:
    service = make_service(db_session, code="scolaire")
    for code in ("periscolaire", "justificatif_absence"):
        publish(db_session, clock, code)
    child = db_session.get(FoyerMember, child_of(foyer))
    assert child is not None
    child.school, child.birth_date = SCHOOL, date(2018, 5, 4)
    return Town(
        session=db_session, clock=clock, flow=EngineContext(clock=clock, vault=vault),
        vault=vault, foyer=foyer, family=family_of(db_session, clock, foyer),
        agent=agent_of(db_session, clock, service), service=service,
    )  # fmt: skip


def test_an_accepted_registration_enrols_the_child_at_its_school_once(
    town: Town, sessions: sessionmaker[Session]
) -> None:
    session, clock = town.session, town.clock
    canteen = make_activity(session, town.service)
    evening = make_activity(session, town.service, kind=ActivityKind.PERISCOLAIRE_SOIR)
    make_activity(session, town.service, kind=ActivityKind.PERISCOLAIRE_MATIN)  # not asked for
    teens = make_activity(
        session,
        town.service,
        kind=ActivityKind.PERISCOLAIRE_SOIR,
        rule=CutoffRule.JOURS_CALENDAIRES,
    )
    teens.min_age = 11  # the child is 8: not of an age for it
    elsewhere = make_activity(session, make_service(session))  # another school's canteen
    elsewhere.site = "École Jean-Jaurès"
    demande = town.registered()
    assert demande.status is DemandeStatus.ACCEPTEE

    worker = Worker(sessions=sessions, clock=clock, name="registrations")
    register_standard_jobs(worker, town.vault, None, "https://portail.bellerive.example")
    worker.tick(clock.now())  # the worker's job takes the decision in
    assert registrations.apply_closed(session, clock) == 0  # once only

    enrolled = session.scalars(select(Enrolment).order_by(Enrolment.activity_id)).all()
    assert [
        (e.activity_id, e.member_id, e.starts_on, e.ends_on, e.demande_id) for e in enrolled
    ] == [
        (canteen.id, town.child, date(2026, 9, 1), date(2027, 8, 31), demande.id),
        (evening.id, town.child, date(2026, 9, 1), date(2027, 8, 31), demande.id),
    ]
    open_days(session, canteen, MONDAY, MONDAY)
    week = family_week(session, Context(clock=clock, calendar=CALENDAR), town.foyer.id, MONDAY)
    assert {line.activity_id for line in week[0].activities} == {canteen.id, evening.id}


def test_a_refused_registration_enrols_no_one(town: Town) -> None:
    make_activity(town.session, town.service)
    demande = town.registered("refuser")

    assert registrations.apply_closed(town.session, town.clock) == 1

    assert town.session.scalars(select(Enrolment)).all() == []
    assert town.session.get(AppliedDemande, demande.id).outcome == "rien"  # type: ignore[union-attr]


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
def booked(town: Town) -> dict[date, int]:
    """The child booked at the canteen Monday to Wednesday of the week of 14 September."""
    session, clock = town.session, town.clock
    canteen = make_activity(session, town.service)
    days = open_days(session, canteen, MONDAY, MONDAY + timedelta(days=4))
    activities.enrol(session, clock, canteen.id, town.child, MONDAY, date(2027, 7, 3))
    ctx, booker = (
        Context(clock=clock, calendar=CALENDAR),
        Booker(None, Channel.FAMILLE, town.foyer.id),
    )
    for offset in range(3):
        bookings.book(session, ctx, booker, town.child, days[MONDAY + timedelta(days=offset)])
    town.clock.current = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)  # Monday: too late to cancel
    return days


def test_a_justified_absence_shows_on_both_sides_and_is_not_billed(
    town: Town, booked: dict[date, int]
) -> None:
    session, clock = town.session, town.clock
    demande = town.reported("justifiee")
    assert demande.status is DemandeStatus.ACCEPTEE
    registrations.apply_closed(session, clock)
    for day in (MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)):
        attendance.mark(session, clock, town.staff, booked[day], town.child, False)

    week = family_week(session, Context(clock=clock, calendar=CALENDAR), town.foyer.id, MONDAY)
    days = week[0].activities[0].days
    assert [(d.justified_absence, d.absence_to_justify) for d in days[:3]] == [
        (True, False), (True, False), (False, False),  # Wednesday can still be cancelled
    ]  # fmt: skip
    assert attendance.sheet(session, town.staff, booked[MONDAY]).rows[0].justified_absence
    lines = attendance.month_csv(session, town.staff, SCHOOL, 2026, 9).splitlines()[1:]
    assert [line.rsplit(";", 3)[1:] for line in lines] == [
        ["absent", "oui", "non"],  # Monday, Tuesday: justified, not billed
        ["absent", "oui", "non"],
        ["absent", "non", "oui"],  # Wednesday: absent without a certificate, billed
    ]


def test_a_certificate_the_service_refuses_leaves_the_absence_billed(
    town: Town, booked: dict[date, int]
) -> None:
    session = town.session
    demande = town.reported("non_justifiee")
    registrations.apply_closed(session, town.clock)
    attendance.mark(session, town.clock, town.staff, booked[MONDAY], town.child, False)

    absence = session.scalars(select(ReportedAbsence)).one()
    assert (absence.demande_id, absence.justified) == (demande.id, False)
    line = attendance.month_csv(session, town.staff, SCHOOL, 2026, 9).splitlines()[1]
    assert line.endswith(";absent;non;oui")
    # An activity that never bills a missed day does not bill this one either.
    canteen = session.scalars(select(Enrolment)).one().activity
    canteen.bills_unjustified_absence = False
    session.commit()
    line = attendance.month_csv(session, town.staff, SCHOOL, 2026, 9).splitlines()[1]
    assert line.endswith(";absent;non;non")


def test_last_years_registration_is_renewed_with_its_answers_and_valid_documents(
    town: Town,
) -> None:
    session, flow, family = town.session, town.flow, town.family
    make_activity(session, town.service)
    last_year = town.registered()
    assert renewals.renewable(session, town.foyer.id, date(2027, 4, 30)) == []  # not open yet

    town.clock.current = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)  # the renewal window is open
    # Last year's insurance ends in July, before the new school year: a new one is in the vault.
    new_insurance = deposit(
        town.vault, session, town.foyer, pdf_of(6100), type_code="attestation_assurance",
        issued_on=date(2027, 5, 2),
    )  # fmt: skip
    [offer] = renewals.renewable(session, town.foyer.id, date(2027, 5, 3))
    assert (offer.demande.id, offer.child.id) == (last_year.id, town.child)  # type: ignore[union-attr]
    draft = renewals.renew(session, flow, family, last_year.id)
    assert renewals.renew(session, flow, family, last_year.id).id == draft.id  # twice: one

    answers = json.loads(draft.form_data)
    vaccinations_id = session.scalars(
        select(Grant.document_id)
        .join(Document, Document.id == Grant.document_id)
        .where(Grant.demande_id == last_year.id, Document.type_code == "carnet_vaccination")
    ).one()
    assert {k: v for k, v in answers.items() if k != "_documents"} == {
        "enfant": str(town.child), "cantine": "True", "garderie_soir": "True",
        "garderie_matin": "False", "centre_loisirs_mercredi": "False", "allergies": "False",
    }  # fmt: skip
    chosen = {int(part) for part in answers["_documents"].split(",")}
    assert chosen == {new_insurance.id, vaccinations_id}  # last year's when still valid

    values = {k: v for k, v in answers.items() if not k.startswith("_")}
    renewal = demandes.submit(session, flow, family, draft.id, values, sorted(chosen))
    renewal = work(session, flow, town.agent, renewal, {"decision": "valider"})
    assert renewals.renewable(session, town.foyer.id, date(2027, 5, 3)) == []
    with pytest.raises(InvalidTransition):
        renewals.renew(session, flow, family, last_year.id)

    registrations.apply_closed(session, town.clock)
    next_year = session.scalars(select(Enrolment).where(Enrolment.demande_id == renewal.id)).one()
    assert (next_year.starts_on, next_year.ends_on) == (date(2027, 9, 1), date(2028, 8, 31))


def test_a_registration_of_this_year_or_another_foyers_cannot_be_renewed(
    town: Town, other_foyer: Foyer
) -> None:
    town.clock.current = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)
    this_year = town.registered(insured_on=date(2027, 5, 2))

    assert renewals.renewable(town.session, town.foyer.id, date(2027, 5, 3)) == []
    with pytest.raises(InvalidTransition):
        renewals.renew(town.session, town.flow, town.family, this_year.id)
    stranger = family_of(town.session, town.clock, other_foyer)
    with pytest.raises(DemandeNotFound):
        renewals.renew(town.session, town.flow, stranger, this_year.id)
