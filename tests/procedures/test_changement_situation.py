"""A change of situation said once, driven end to end: the family declares it, an agent
checks it, and the household file and every demande that uses it are updated, the family
told which ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from coffre.vault import Vault
from procedures import catalogue, demandes, tasks
from procedures.demandes import FamilyActor
from procedures.errors import Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, Task, TaskState
from procedures.operations import situation
from procedures.operations.context import OperationError
from procedures.operations.situation import read_change
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.procedures.flows import (
    agent_of,
    decision_message,
    events_of,
    journal_of,
    open_task,
    publish,
    submitted_creche,
    templates_sent,
    work,
)

CODE = "changement_situation"
LILAS, JAURES = "Groupe scolaire des Lilas", "Groupe scolaire Jean-Jaurès"
MOVE = {
    "changement": "adresse",
    "adresse": "27 avenue de la Gare",
    "code_postal": "33600",
    "ville": "Bellerive",
}


@pytest.fixture
def scolaire(db_session: Session) -> Service:
    service = make_service(db_session, code="scolaire")
    service.name = "Affaires scolaires et périscolaires"
    db_session.flush()
    return service


@pytest.fixture
def agent(
    db_session: Session, clock: FrozenClock, scolaire: Service, petite_enfance: Service
) -> AgentActor:
    publish(db_session, clock, CODE)
    publish(db_session, clock, "creche")
    return agent_of(db_session, clock, scolaire)


@pytest.fixture
def at_the_lilas(db_session: Session, foyer: Foyer) -> Foyer:
    """The Martins at 12 rue des Lilas, Lou at the Lilas school of their sector."""
    foyer.address_line, foyer.postal_code, foyer.city = "12 rue des Lilas", "33600", "Bellerive"
    next(m for m in foyer.members if m.role is MemberRole.ENFANT).school = LILAS
    db_session.commit()
    return foyer


def declared(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    answers: dict[str, str],
    document_ids: list[int] | None = None,
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, CODE)
    return demandes.submit(session, ctx, family, draft.id, answers, document_ids or [])


def accepted_long_ago(session: Session, demande: Demande, closed: datetime) -> None:
    """A demande decided earlier (its tasks done): set as the registrations of past years."""
    for task in session.scalars(select(Task).where(Task.demande_id == demande.id)):
        task.state = TaskState.DONE
    demande.status, demande.closed_at = DemandeStatus.ACCEPTEE, closed
    session.commit()


def test_a_new_address_is_carried_to_the_file_and_each_demande_that_uses_it(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    at_the_lilas: Foyer,
) -> None:
    foyer = at_the_lilas
    creche = submitted_creche(db_session, ctx, family, vault, foyer)
    last_year = submitted_creche(db_session, ctx, family, vault, foyer)
    accepted_long_ago(db_session, last_year, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    too_old = submitted_creche(db_session, ctx, family, vault, foyer)
    accepted_long_ago(db_session, too_old, datetime(2025, 6, 2, 9, 0, tzinfo=UTC))
    proof = deposit(vault, db_session, foyer, pdf_of(9100), issued_on=date(2026, 8, 25))

    demande = declared(db_session, ctx, family, MOVE, [proof.id])
    task = open_task(db_session, demande)
    assert (task.spec_id, task.title) == (
        "verifier_changement",
        "Vérifier le changement de situation",
    )
    [preview] = events_of(db_session, demande, "situation_lue")
    assert preview.internal and creche.number in preview.comment
    assert foyer.address_line == "12 rue des Lilas"  # nothing changes before the agent checks

    done = work(db_session, ctx, agent, demande, {"decision": "appliquer"})

    assert done.status is DemandeStatus.ACCEPTEE
    db_session.refresh(foyer)
    assert (foyer.address_line, foyer.postal_code, foyer.city) == (
        "27 avenue de la Gare", "33600", "Bellerive",
    )  # fmt: skip
    message = decision_message(db_session, demande)
    assert "27 avenue de la Gare, 33600 Bellerive" in message
    assert f"la demande {creche.number} (Pré-inscription en crèche), en cours" in message
    assert f"l'inscription {last_year.number} (Pré-inscription en crèche), signalée" in message
    assert str(too_old.number) not in message  # accepted over a year ago: no longer in effect
    assert (
        f"École du secteur de la nouvelle adresse : {JAURES}. École actuelle de Lou : {LILAS}."
        in message
    )
    for touched in (creche, last_year):
        [public, sector] = events_of(db_session, touched, "situation_reported")
        assert not public.internal and demande.number in public.comment
        assert sector.internal and JAURES in sector.comment
    assert events_of(db_session, too_old, "situation_reported") == []
    [entry] = [e for e in journal_of(db_session, foyer.id) if e.event == "foyer.situation_changed"]
    assert entry.demande_id == demande.id and entry.actor_id == agent.account_id
    assert "avenue" not in entry.details  # ids only in the journal, never the address
    assert templates_sent(db_session, family)[-1] == "decision"


def test_a_new_phone_number_is_recorded_and_given_to_every_open_demande(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    creche = submitted_creche(db_session, ctx, family, vault, foyer)

    demande = declared(
        db_session, ctx, family, {"changement": "telephone", "telephone": "+33 6.12.34.56.78"}
    )  # no document is asked for a phone number
    work(db_session, ctx, agent, demande, {"decision": "appliquer"})

    db_session.refresh(foyer)
    assert foyer.phone == "06 12 34 56 78"
    message = decision_message(db_session, demande)
    assert "Votre nouveau numéro, 06 12 34 56 78, est enregistré" in message
    assert creche.number is not None and creche.number in message
    [event] = events_of(db_session, creche, "situation_reported")
    assert "numéro de téléphone" in event.comment


def test_a_new_child_joins_the_household_file_and_the_family_hears_of_its_quotient(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    foyer.quotient_familial, foyer.tranche_qf = 812, "C"
    db_session.commit()
    record_book = deposit(vault, db_session, foyer, pdf_of(9200), type_code="livret_famille")
    answers = {
        "changement": "enfant",
        "enfant_prenom": "Nina",
        "enfant_nom": "Martin",
        "enfant_naissance": "2026-08-14",
    }

    demande = declared(db_session, ctx, family, answers, [record_book.id])
    work(db_session, ctx, agent, demande, {"decision": "appliquer"})

    db_session.refresh(foyer)
    [nina] = [m for m in foyer.members if m.first_name == "Nina"]
    assert (nina.role, nina.last_name, nina.birth_date) == (
        MemberRole.ENFANT, "Martin", date(2026, 8, 14),
    )  # fmt: skip
    message = decision_message(db_session, demande)
    assert message.startswith("Nina Martin, né(e) le 14 août 2026, est ajouté(e)")
    assert "Aucune autre de vos demandes" in message and "quotient familial" in message


def test_the_agent_refuses_with_a_motif_and_nothing_changes(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    at_the_lilas: Foyer,
) -> None:
    proof = deposit(vault, db_session, at_the_lilas, pdf_of(9300), issued_on=date(2026, 8, 25))
    demande = declared(db_session, ctx, family, MOVE, [proof.id])

    motif = "Le justificatif est au nom d'une autre personne."
    done = work(db_session, ctx, agent, demande, {"decision": "refuser", "motif": motif})

    assert done.status is DemandeStatus.REFUSEE
    assert decision_message(db_session, demande) == motif
    db_session.refresh(at_the_lilas)
    assert at_the_lilas.address_line == "12 rue des Lilas"
    assert not any(
        e.event == "foyer.situation_changed" for e in journal_of(db_session, at_the_lilas.id)
    )


def test_an_incomplete_declaration_is_refused_at_once_saying_what_is_missing(
    db_session: Session, ctx: EngineContext, family: FamilyActor, agent: AgentActor
) -> None:
    demande = declared(db_session, ctx, family, {"changement": "telephone", "telephone": "12"})

    assert demande.status is DemandeStatus.REFUSEE
    assert "un numéro de téléphone valable" in decision_message(db_session, demande)
    assert db_session.scalars(select(Task).where(Task.demande_id == demande.id)).all() == []


def test_a_move_needs_a_recent_proof_of_address_and_a_phone_number_none(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    stale = deposit(vault, db_session, foyer, pdf_of(9400), issued_on=date(2026, 4, 2))
    draft = demandes.create_draft(db_session, ctx, family, CODE)

    with pytest.raises(Incomplete) as refused:
        demandes.submit(db_session, ctx, family, draft.id, MOVE, [stale.id])

    assert refused.value.problems == [
        "Justificatif manquant, périmé ou non partagé : "
        "Justificatif de domicile de moins de 3 mois."
    ]
    phone = {"changement": "telephone", "telephone": "0556000000"}
    assert demandes.problems_before_submit(db_session, ctx, family, draft.id, phone, []) == []


def test_a_failure_while_carrying_the_change_leaves_nothing_half_written(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    at_the_lilas: Foyer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creche = submitted_creche(db_session, ctx, family, vault, at_the_lilas)
    proof = deposit(vault, db_session, at_the_lilas, pdf_of(9500), issued_on=date(2026, 8, 25))
    demande = declared(db_session, ctx, family, MOVE, [proof.id])

    def unreadable() -> None:
        raise OperationError("sectorisation illisible")

    monkeypatch.setattr(situation, "read_sectorisation", unreadable)
    task = open_task(db_session, demande)
    tasks.claim(db_session, ctx, agent, task.id)
    with pytest.raises(OperationError):
        tasks.complete(db_session, ctx, agent, task.id, {"decision": "appliquer"})

    db_session.refresh(at_the_lilas)
    assert at_the_lilas.address_line == "12 rue des Lilas"
    assert events_of(db_session, creche, "situation_reported") == []
    assert open_task(db_session, demande).state is TaskState.CLAIMED  # the agent may retry


@pytest.mark.parametrize(
    ("answers", "missing"),
    [
        ({"changement": "adresse", "adresse": "5 rue X", "code_postal": "3360"}, 2),
        ({"changement": "enfant", "enfant_prenom": "Nina", "enfant_naissance": "2027-01-01"}, 2),
        ({"changement": "", "telephone": "0612345678"}, 1),
    ],
)
def test_each_change_says_everything_it_misses(answers: dict[str, str], missing: int) -> None:
    change, problems = read_change(answers, date(2026, 9, 1))
    assert change is None and len(problems) == missing


def test_only_the_proof_of_a_move_and_the_family_record_book_are_asked() -> None:
    definition = catalogue.read_built_in(CODE)[0]
    assert [d.type for d in definition.documents] == ["justificatif_domicile", "livret_famille"]


def test_the_child_is_added_once_with_the_household_s_members(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    clock: FrozenClock,
) -> None:
    book = deposit(vault, db_session, foyer, pdf_of(9600), type_code="livret_famille")
    answers = {
        "changement": "enfant",
        "enfant_prenom": "Noé",
        "enfant_nom": "Martin",
        "enfant_naissance": "2026-07-01",
    }
    demande = declared(db_session, ctx, family, answers, [book.id])
    clock.advance(timedelta(hours=2))
    work(db_session, ctx, agent, demande, {"decision": "appliquer"})

    children = db_session.scalars(
        select(FoyerMember.first_name).where(
            FoyerMember.foyer_id == foyer.id, FoyerMember.role == MemberRole.ENFANT
        )
    ).all()
    assert sorted(children) == ["Lou", "Noé"]
