"""The agent's view of a demande and the acts of its review page, through the service API."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.errors import DocumentNotFound
from coffre.models import Document, DocumentRead, DocumentState, Foyer
from coffre.vault import Vault
from procedures import agent_actions, agent_views, demandes, family_views
from procedures.agent_actions import DemandeAsShown, QuotientFact, TaskAsShown
from procedures.demandes import FamilyActor
from procedures.errors import DemandeNotFound, Incomplete, TaskConflict
from procedures.history import EngineContext
from procedures.models import Demande, TaskState
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.procedures.flows import agent_of, child_of, family_of, open_task, publish


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    return make_service(db_session, code="petite-enfance")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    return agent_of(db_session, clock, petite_enfance)


@pytest.fixture
def papers(db_session: Session, vault: Vault, foyer: Foyer) -> list[Document]:
    return [
        deposit(vault, db_session, foyer, pdf_of(4000), issued_on=date(2026, 8, 10)),
        deposit(vault, db_session, foyer, pdf_of(4001), type_code="avis_imposition"),
        deposit(
            vault, db_session, foyer, pdf_of(4002), type_code="carnet_vaccination",
            member_id=child_of(foyer),
        ),
    ]  # fmt: skip


@pytest.fixture
def kept(db_session: Session, vault: Vault, foyer: Foyer) -> Document:
    """A document of the foyer's vault that is never granted to the demande."""
    return deposit(vault, db_session, foyer, pdf_of(4003), type_code="piece_identite")


@pytest.fixture
def demande(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    foyer: Foyer,
    petite_enfance: Service,
    papers: list[Document],
) -> Demande:
    publish(db_session, clock, "creche")
    family: FamilyActor = family_of(db_session, clock, foyer)
    draft = demandes.create_draft(db_session, ctx, family, "creche")
    form = {"enfant": str(child_of(foyer)), "date_entree": "2027-01-04", "jours": "3"}
    return demandes.submit(db_session, ctx, family, draft.id, form, [p.id for p in papers])


def shown_task(session: Session, demande: Demande) -> TaskAsShown:
    task = open_task(session, demande)
    return TaskAsShown(demande.id, task.id, task.row_version)


def test_view_shows_answers_with_labels_and_only_granted_documents(
    db_session: Session,
    clock: FrozenClock,
    agent: AgentActor,
    petite_enfance: Service,
    demande: Demande,
    papers: list[Document],
    kept: Document,
) -> None:
    view = agent_views.demande_view(db_session, agent, demande.id, clock.now())

    answers = {line.label: line.value for line in view.fields}
    assert answers["Enfant concerné"] == "Lou Martin"
    assert answers["Date d'entrée souhaitée"] == date(2027, 1, 4)
    assert answers["Précisions utiles (horaires, fratrie déjà accueillie…)"] is None
    by_type = sorted(papers, key=lambda p: p.type_code)
    assert [line.document.id for line in view.documents] == [p.id for p in by_type]
    assert kept.id not in {line.document.id for line in view.documents}
    incomes = {line.document.type_code for line in view.documents if line.income}
    assert incomes == {"avis_imposition"}
    assert view.current is not None and view.current.task.spec_id == "verifier_dossier"
    assert view.current.service_name == petite_enfance.name and not view.current.mine


def test_a_demande_outside_the_agents_services_does_not_exist_for_it(
    db_session: Session, clock: FrozenClock, demande: Demande, papers: list[Document]
) -> None:
    outsider = agent_of(db_session, clock, make_service(db_session))
    nobody = AgentActor(outsider.account_id, frozenset())

    for stranger in (outsider, nobody):
        with pytest.raises(DemandeNotFound):
            agent_views.demande_view(db_session, stranger, demande.id, clock.now())
        with pytest.raises(DemandeNotFound):
            agent_views.granted_document(db_session, stranger, demande.id, papers[0].id)


def test_internal_notes_are_in_the_agents_history_only(
    db_session: Session, clock: FrozenClock, ctx: EngineContext, agent: AgentActor, demande: Demande
) -> None:
    version = demande.row_version
    agent_actions.comment(
        db_session, ctx, agent, DemandeAsShown(demande.id, version), "Voir la directrice",
        internal=True,
    )  # fmt: skip
    agent_actions.comment(
        db_session, ctx, agent, DemandeAsShown(demande.id, demande.row_version), "Bien reçu",
        internal=False,
    )  # fmt: skip

    view = agent_views.demande_view(db_session, agent, demande.id, clock.now())
    assert [(h.event.comment, h.event.internal) for h in view.history[-2:]] == [
        ("Voir la directrice", True),
        ("Bien reçu", False),
    ]
    assert [h.event.comment for h in view.exchanges] == ["Bien reçu"]
    public = [event.comment for event in family_views.public_history(db_session, demande.id)]
    assert "Bien reçu" in public and "Voir la directrice" not in public


def test_a_stale_version_changes_nothing(
    db_session: Session, ctx: EngineContext, agent: AgentActor, demande: Demande
) -> None:
    shown = shown_task(db_session, demande)
    agent_actions.claim(db_session, ctx, agent, shown)
    agent_actions.release(db_session, ctx, agent, shown_task(db_session, demande))

    with pytest.raises(TaskConflict):
        agent_actions.claim(db_session, ctx, agent, shown)
    with pytest.raises(TaskConflict):
        agent_actions.comment(
            db_session, ctx, agent, DemandeAsShown(demande.id, 1), "Trop tard", internal=True
        )

    assert open_task(db_session, demande).state is TaskState.OPEN


def test_a_task_of_another_demande_is_not_found(
    db_session: Session, ctx: EngineContext, agent: AgentActor, demande: Demande
) -> None:
    shown = shown_task(db_session, demande)

    with pytest.raises(DemandeNotFound):
        agent_actions.claim(
            db_session, ctx, agent, TaskAsShown(demande.id + 1, shown.task_id, shown.version)
        )


def test_quotient_is_recorded_only_from_an_income_document(
    db_session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    demande: Demande,
    foyer: Foyer,
    papers: list[Document],
) -> None:
    address, income = papers[0], papers[1]
    fact = QuotientFact(910, "D", date(2027, 8, 31))

    with pytest.raises(Incomplete):
        agent_actions.validate_document(
            db_session, ctx, agent, DemandeAsShown(demande.id, demande.row_version), address.id,
            fact,
        )  # fmt: skip
    assert db_session.get(Document, address.id).state is DocumentState.DEPOSE  # type: ignore[union-attr]
    agent_actions.validate_document(
        db_session, ctx, agent, DemandeAsShown(demande.id, demande.row_version), income.id, fact
    )

    db_session.refresh(foyer)
    assert (foyer.quotient_familial, foyer.tranche_qf, foyer.qf_valid_until) == (
        910, "D", date(2027, 8, 31),
    )  # fmt: skip
    assert db_session.get(Document, income.id).state is DocumentState.VALIDE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("quotient", "tranche", "until", "problem"),
    [
        ("842", "", "2027-08-31", "Choisissez la tranche tarifaire."),
        ("huit", "C", "2027-08-31", "un nombre entier"),
        ("842", "C", "31/08/2027", "JJ/MM/AAAA"),
        ("842", "C", "2026-08-31", "déjà passée"),
    ],
)
def test_a_half_typed_quotient_is_refused(
    quotient: str, tranche: str, until: str, problem: str
) -> None:
    assert agent_actions.quotient_fact("", "", "", date(2026, 9, 1)) is None
    with pytest.raises(Incomplete) as refused:
        agent_actions.quotient_fact(quotient, tranche, until, date(2026, 9, 1))
    assert any(problem in line for line in refused.value.problems)


def test_reading_a_document_not_granted_is_not_found_and_not_logged(
    db_session: Session, vault: Vault, agent: AgentActor, demande: Demande, kept: Document
) -> None:
    with pytest.raises(DocumentNotFound):
        agent_actions.read_document(db_session, vault, agent, demande.id, kept.id)

    assert db_session.scalars(select(DocumentRead)).all() == []
