"""The crèche pre-registration driven end to end through the service API, to every end."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role, Service
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, granted_documents
from coffre.models import Foyer, MemberRole
from coffre.vault import Vault
from procedures import catalogue, demandes, tasks
from procedures.demandes import FamilyActor
from procedures.errors import Incomplete, InvalidTransition, TaskConflict
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus, TaskState
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_account
from tests.procedures.flows import (
    agent_of,
    open_task,
    publish,
    submitted_creche,
    work,
)


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> None:
    publish(db_session, clock, "creche")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    return agent_of(db_session, clock, petite_enfance)


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(
    ("decision", "answer", "status"),
    [
        ("place", "acceptee", DemandeStatus.ACCEPTEE),
        ("place", "refusee", DemandeStatus.CLASSEE),
        ("attente", None, DemandeStatus.CLASSEE),
        ("refus", None, DemandeStatus.REFUSEE),
    ],
)
def test_creche_reaches_each_end(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    decision: str,
    answer: str | None,
    status: DemandeStatus,
) -> None:
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    assert demande.number is not None and demande.status is DemandeStatus.DEPOSEE
    assert open_task(db_session, demande).spec_id == "verifier_dossier"

    work(db_session, ctx, agent, demande, {})
    demande = work(db_session, ctx, agent, demande, {"decision": decision, "motif": ""})
    if answer is not None:
        offer = open_task(db_session, demande)
        assert offer.for_family and offer.service_id is None
        demande = tasks.complete_for_family(db_session, ctx, family, offer.id, {"reponse": answer})

    assert demande.status is status
    assert demande.closed_at is not None
    exported = list(vault.store.keys("back-office/creche/"))
    assert exported == (
        [f"back-office/creche/{demande.number}.json"] if answer == "acceptee" else []
    )
    if exported:
        with vault.store.open(exported[0]) as file:
            record = json.loads(file.read())
        assert (record["numero"], record["donnees"]["decision"]) == (demande.number, "place")
        assert record["donnees"]["jours"] == "4" and "demande_id" not in record["donnees"]
        child = next(m for m in foyer.members if m.role is MemberRole.ENFANT)
        assert [(c["prenom"], c["nom"]) for c in record["enfants"]] == [
            (child.first_name, child.last_name)
        ]  # the identity, not a bare id
        adults = [m for m in foyer.members if m.role is MemberRole.ADULTE]
        assert record["adresse"]["ville"] == foyer.city and record["courriels"]
        assert [a["nom"] for a in record["adultes"]] == [a.last_name for a in adults]


@pytest.mark.usefixtures("published")
def test_offered_place_lapses_after_eight_days(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    work(db_session, ctx, agent, demande, {})
    work(db_session, ctx, agent, demande, {"decision": "place"})

    clock.advance(timedelta(days=7))
    assert tasks.fire_timeouts(db_session, ctx) == 0
    clock.advance(timedelta(days=1, minutes=1))
    assert tasks.fire_timeouts(db_session, ctx) == 1

    assert db_session.get(Demande, demande.id).status is DemandeStatus.CLASSEE  # type: ignore[union-attr]


@pytest.mark.usefixtures("published")
def test_submission_lists_every_missing_item(
    db_session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "creche")
    old_address = deposit(vault, db_session, foyer, pdf_of(3000), issued_on=date(2026, 4, 1))

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(db_session, ctx, family, draft.id, {"jours": "9"}, [old_address.id])

    problems = incomplete.value.problems
    assert any("Enfant concerné" in p for p in problems)
    assert any("Nombre de jours" in p for p in problems)
    assert any("Justificatif de domicile de moins de 3 mois" in p for p in problems)
    assert any("Avis d'imposition" in p for p in problems)
    assert any("Carnet de vaccination" in p for p in problems)
    assert db_session.get(Demande, draft.id).status is DemandeStatus.BROUILLON  # type: ignore[union-attr]


@pytest.mark.usefixtures("published")
def test_only_granted_documents_reach_the_handling_service(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    private = deposit(vault, db_session, foyer, pdf_of(4000), type_code="rib")
    demande = submitted_creche(db_session, ctx, family, vault, foyer)

    visible = granted_documents(
        db_session, AgentReader(agent.account_id, agent.service_ids), demande.id
    )

    assert len(visible) == 3 and private not in visible


@pytest.mark.usefixtures("published")
def test_second_agent_claiming_the_same_task_gets_a_conflict(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    petite_enfance: Service,
) -> None:
    other = AgentActor(make_account(db_session, clock, Role.AGENT).id, agent.service_ids)
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    tasks.claim(db_session, ctx, agent, task.id)

    with pytest.raises(TaskConflict):
        tasks.claim(db_session, ctx, other, task.id)
    with pytest.raises(TaskConflict):
        tasks.complete(db_session, ctx, other, task.id, {})


@pytest.mark.usefixtures("published")
def test_waiting_on_the_family_pauses_the_deadline(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    tasks.claim(db_session, ctx, agent, task.id)
    assert task.due_at is not None
    left = ctx.calendar.working_time_between(clock.now(), task.due_at)

    tasks.ask_family(db_session, ctx, agent, task.id, "Merci de fournir un RIB.", ["rib"])
    assert db_session.get(Demande, demande.id).status is DemandeStatus.EN_ATTENTE_FAMILLE  # type: ignore[union-attr]
    clock.advance(timedelta(days=10))
    demandes.answer(db_session, ctx, family, demande.id, "Voici le RIB.", [])

    assert task.state is TaskState.CLAIMED
    assert ctx.calendar.working_time_between(clock.now(), task.due_at) == left
    history = db_session.scalars(
        select(DemandeEvent.kind).where(DemandeEvent.demande_id == demande.id)
    ).all()
    assert "asked_family" in history and "family_answered" in history


@pytest.mark.usefixtures("published")
def test_family_cancels_before_the_decision_but_not_after(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    demandes.cancel(db_session, ctx, family, demande.id)
    assert demande.status is DemandeStatus.ANNULEE

    with pytest.raises(InvalidTransition):
        demandes.cancel(db_session, ctx, family, demande.id)


@pytest.mark.usefixtures("published")
def test_a_running_demande_keeps_its_version_after_a_new_publication(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    before = submitted_creche(db_session, ctx, family, vault, foyer)
    definition, bpmn = catalogue.read_built_in("creche")
    newer = catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    after = demandes.create_draft(db_session, ctx, family, "creche")

    assert before.procedure_version_id != newer.id
    assert after.procedure_version_id == newer.id
    work(db_session, ctx, agent, before, {})
    assert open_task(db_session, before).spec_id == "decision_commission"
