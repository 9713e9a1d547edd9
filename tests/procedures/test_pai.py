"""The individualised care plan (PAI) driven end to end: the family deposits the doctor's
plan, the school doctor validates or refuses it, and a validated plan is read by the
canteen and after-school team of the child's school only, until the end of the school
year, each read logged; renewed each year from last year's answers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre import consent
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, DemandeRef
from coffre.errors import AccessDenied, DocumentNotFound
from coffre.models import Document, DocumentRead, Foyer, FoyerMember
from coffre.vault import OpenedDocument, Vault
from procedures import demandes, renewals, tasks
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus
from procedures.operations.pai import plan_valid_until
from procedures.tasks import AgentActor
from procedures.vault import teams
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.procedures.flows import agent_of, child_of, open_task, publish, templates_sent, work

CODE = "pai"
LILAS = "Groupe scolaire des Lilas"
JAURES = "Groupe scolaire Jean-Jaurès"
YEAR_END = date(2027, 8, 31)


def team(session: Session, school: str | None) -> Service:
    service = make_service(session)
    service.school = school
    session.flush()
    return service


@pytest.fixture
def doctor(db_session: Session, clock: FrozenClock) -> AgentActor:
    service = make_service(db_session, code="medecine-scolaire")
    publish(db_session, clock, CODE)
    return agent_of(db_session, clock, service)


@pytest.fixture
def lilas(db_session: Session, clock: FrozenClock) -> AgentActor:
    """An agent of the Lilas school's canteen and after-school team."""
    return agent_of(db_session, clock, team(db_session, LILAS))


@pytest.fixture
def jaures(db_session: Session, clock: FrozenClock) -> AgentActor:
    """An agent of the other school's canteen team."""
    return agent_of(db_session, clock, team(db_session, JAURES))


def plan_of(vault: Vault, session: Session, foyer: Foyer, issued: date) -> Document:
    return deposit(
        vault, session, foyer, pdf_of(4200), type_code="pai_medical", filename="pai.pdf",
        issued_on=issued, member_id=child_of(foyer),
    )  # fmt: skip


def submitted(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    school: str = LILAS,
    issued: date = date(2026, 8, 25),
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, CODE)
    plan = plan_of(vault, session, foyer, issued)
    answers = {"enfant": str(child_of(foyer)), "ecole": school, "motif_pai": "allergie_alimentaire"}
    return demandes.submit(session, ctx, family, draft.id, answers, [plan.id])


def read_as_team(
    session: Session, vault: Vault, agent: AgentActor, document_id: int, day: date
) -> OpenedDocument:
    return teams.read_team_plan(session, vault, agent, document_id, day)


def plan_id(session: Session, demande: Demande) -> int:
    return session.scalars(
        select(Document.id).where(
            Document.foyer_id == demande.foyer_id, Document.type_code == "pai_medical"
        )
    ).one()


def test_a_validated_plan_is_read_by_its_school_team_only(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    doctor: AgentActor,
    lilas: AgentActor,
    jaures: AgentActor,
    vault: Vault,
    foyer: Foyer,
    clock: FrozenClock,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    assert (task.spec_id, task.title) == ("examiner_pai", "Examiner le PAI")
    document_id = plan_id(db_session, demande)
    today = date(2026, 9, 1)
    with pytest.raises(DocumentNotFound):  # not before the doctor validated it
        read_as_team(db_session, vault, lilas, document_id, today)

    demande = work(db_session, ctx, doctor, demande, {"decision": "valider"})

    assert demande.status is DemandeStatus.ACCEPTEE
    opened = read_as_team(db_session, vault, lilas, document_id, today)
    assert b"".join(opened.chunks) == pdf_of(4200)
    [read] = db_session.scalars(select(DocumentRead)).all()
    assert (read.reader_id, read.service_id, read.demande_id, read.purpose) == (
        lilas.account_id, next(iter(lilas.service_ids)), demande.id, "equipe",
    )  # fmt: skip
    for stranger in (jaures, agent_of(db_session, clock, team(db_session, None))):
        with pytest.raises(DocumentNotFound):
            read_as_team(db_session, vault, stranger, document_id, today)
        reader = AgentReader(stranger.account_id, stranger.service_ids)
        with pytest.raises(AccessDenied):  # the one access check, for a demande as a team
            consent.check_access(db_session, reader, document_id, demande.id)
        with pytest.raises(AccessDenied):
            consent.check_access(db_session, reader, document_id, team_on=today)
        assert teams.team_plans(db_session, stranger, today) == []
    [plan] = teams.team_plans(db_session, lilas, today)
    assert (plan.child, plan.school, plan.valid_until) == ("Lou Martin", LILAS, YEAR_END)
    [line] = teams.family_shares(db_session, family, demande.id, today)
    assert (line.school, line.valid_until, line.in_force) == (LILAS, YEAR_END, True)
    child = db_session.get(FoyerMember, child_of(foyer))
    assert child is not None and child.has_pai  # the attendance sheets show it
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_the_share_ends_with_the_school_year_and_with_the_consent(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    doctor: AgentActor,
    lilas: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = work(
        db_session, ctx, doctor, submitted(db_session, ctx, family, vault, foyer),
        {"decision": "valider"},
    )  # fmt: skip
    document_id = plan_id(db_session, demande)
    read_as_team(db_session, vault, lilas, document_id, YEAR_END)
    with pytest.raises(DocumentNotFound):
        read_as_team(db_session, vault, lilas, document_id, date(2027, 9, 1))
    [line] = teams.family_shares(db_session, family, demande.id, date(2027, 9, 1))
    assert not line.in_force

    # Its retention period over, the demande's consents end: so does the share.
    consent.end_all(db_session, ctx.clock, DemandeRef(demande.id, foyer.id, False), "retention")
    with pytest.raises(DocumentNotFound):
        read_as_team(db_session, vault, lilas, document_id, date(2026, 10, 1))


def test_a_refused_plan_is_shared_with_nobody(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    doctor: AgentActor,
    lilas: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)

    reason = "Le PAI n'est pas signé par le médecin."
    demande = work(db_session, ctx, doctor, demande, {"decision": "refuser", "motif": reason})

    assert demande.status is DemandeStatus.REFUSEE
    [decision] = db_session.scalars(
        select(DemandeEvent).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "decision"
        )
    ).all()
    assert decision.comment == reason and not decision.internal
    with pytest.raises(DocumentNotFound):
        read_as_team(db_session, vault, lilas, plan_id(db_session, demande), date(2026, 9, 1))
    assert teams.family_shares(db_session, family, demande.id, date(2026, 9, 1)) == []


def test_the_doctor_asks_for_a_signed_plan_then_validates_it(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    doctor: AgentActor,
    lilas: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    tasks.claim(db_session, ctx, doctor, task.id)
    tasks.ask_family(db_session, ctx, doctor, task.id, "Le PAI doit être signé.", ["pai_medical"])
    assert demande.status is DemandeStatus.EN_ATTENTE_FAMILLE

    signed = deposit(
        vault, db_session, foyer, pdf_of(4300), type_code="pai_medical", filename="signe.pdf",
        issued_on=date(2026, 8, 31), member_id=child_of(foyer),
    )  # fmt: skip
    demandes.answer(db_session, ctx, family, demande.id, "Voici le PAI signé.", [signed.id])
    demande = tasks.complete(db_session, ctx, doctor, task.id, {"decision": "valider"})

    assert demande.status is DemandeStatus.ACCEPTEE
    shared = {plan.document_id for plan in teams.team_plans(db_session, lilas, date(2026, 9, 2))}
    assert signed.id in shared


def test_the_school_is_read_on_the_childs_file_when_not_chosen(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    doctor: AgentActor,
    jaures: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    child = db_session.get(FoyerMember, child_of(foyer))
    assert child is not None
    child.school = JAURES
    db_session.commit()

    demande = submitted(db_session, ctx, family, vault, foyer, school="")
    placed = db_session.scalars(
        select(DemandeEvent.comment).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "pai_ecole"
        )
    ).one()
    assert placed == f"École de l'enfant : « {JAURES} » (lue sur la fiche de l'enfant)."
    work(db_session, ctx, doctor, demande, {"decision": "valider"})

    [plan] = teams.team_plans(db_session, jaures, date(2026, 9, 1))
    assert plan.school == JAURES


@pytest.mark.parametrize(
    ("today", "until"),
    [(date(2026, 9, 1), date(2027, 8, 31)), (date(2027, 4, 30), date(2027, 8, 31)),
     (date(2027, 5, 3), date(2028, 8, 31))],
)  # fmt: skip
def test_a_plan_lasts_until_the_end_of_the_school_year_it_is_for(today: date, until: date) -> None:
    assert plan_valid_until(today) == until


def test_last_years_plan_is_renewed_from_its_answers_with_a_new_signed_plan(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    doctor: AgentActor,
    lilas: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    clock = ctx.clock
    assert isinstance(clock, FrozenClock)
    last_year = work(
        db_session, ctx, doctor, submitted(db_session, ctx, family, vault, foyer),
        {"decision": "valider"},
    )  # fmt: skip
    clock.current = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)  # the renewal window is open
    [offer] = renewals.renewable(db_session, foyer.id, date(2027, 5, 3))
    assert offer.demande.id == last_year.id

    draft = renewals.renew(db_session, ctx, family, last_year.id)

    answers = json.loads(draft.form_data)
    assert (answers["ecole"], answers["motif_pai"]) == (LILAS, "allergie_alimentaire")
    new_plan = plan_of(vault, db_session, foyer, date(2027, 4, 28))
    renewal = demandes.submit(
        db_session, ctx, family, draft.id, {k: v for k, v in answers.items() if k[0] != "_"},
        [new_plan.id],
    )  # fmt: skip
    renewal = work(db_session, ctx, doctor, renewal, {"decision": "valider"})
    assert renewal.status is DemandeStatus.ACCEPTEE
    [line] = teams.family_shares(db_session, family, renewal.id, date(2027, 9, 1))
    assert line.valid_until == date(2028, 8, 31)
    plans = teams.team_plans(db_session, lilas, date(2027, 9, 1))
    assert [plan.document_id for plan in plans] == [new_plan.id]  # last year's has ended
