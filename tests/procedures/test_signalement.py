"""Reporting an absence or a lost card, driven end to end: short, confirmed by e-mail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from procedures import demandes, tasks
from procedures.demandes import FamilyActor
from procedures.errors import DemandeNotFound, Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus
from procedures.tasks import AgentActor
from tests.factories import make_service
from tests.procedures.flows import (
    agent_of,
    child_of,
    family_of,
    open_task,
    publish,
    templates_sent,
    work,
)


@pytest.fixture
def accueil(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="accueil-mq")
    publish(db_session, clock, "signalement")
    return service


@pytest.fixture
def family(db_session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    return family_of(db_session, clock, foyer)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, accueil: Service) -> AgentActor:
    return agent_of(db_session, clock, accueil)


def reported(
    session: Session, ctx: EngineContext, family: FamilyActor, answers: dict[str, str]
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, "signalement")
    return demandes.submit(session, ctx, family, draft.id, answers, [])


@pytest.mark.parametrize(
    ("nature", "suite", "status"),
    [
        ("absence", "enregistre", DemandeStatus.ACCEPTEE),
        ("perte_carte", "enregistre", DemandeStatus.ACCEPTEE),
        ("absence", "sans_suite", DemandeStatus.CLASSEE),
    ],
)
def test_signalement_reaches_each_end(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    foyer: Foyer,
    nature: str,
    suite: str,
    status: DemandeStatus,
) -> None:
    answers = {"nature": nature, "enfant": str(child_of(foyer)), "date_debut": "2026-09-03"}
    demande = reported(db_session, ctx, family, answers)
    assert demande.status is DemandeStatus.DEPOSEE
    assert open_task(db_session, demande).spec_id == "prendre_en_compte"

    demande = work(db_session, ctx, agent, demande, {"suite": suite})

    assert demande.status is status and demande.closed_at is not None
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_an_absence_keeps_its_dates_and_comment(
    db_session: Session, ctx: EngineContext, family: FamilyActor, agent: AgentActor, foyer: Foyer
) -> None:
    answers = {
        "nature": "absence", "enfant": str(child_of(foyer)), "date_debut": "2026-09-03",
        "date_fin": "2026-09-04", "commentaire": "Varicelle, certificat médical à suivre.",
    }  # fmt: skip

    demande = reported(db_session, ctx, family, answers)

    assert json.loads(demande.form_data) == answers | {"enfant": child_of(foyer)}


def test_a_signalement_needs_its_nature_child_and_first_day(
    db_session: Session, ctx: EngineContext, family: FamilyActor, agent: AgentActor
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "signalement")

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(db_session, ctx, family, draft.id, {"nature": "demenagement"}, [])

    assert incomplete.value.problems == [
        "« Que souhaitez-vous signaler ? » : choisissez une des valeurs proposées.",
        "« Enfant concerné » est à renseigner.",
        "« À partir du » est à renseigner.",
    ]


def test_only_the_partner_reception_handles_a_signalement(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    foyer: Foyer,
) -> None:
    school_agent = agent_of(db_session, clock, make_service(db_session, code="scolaire"))
    answers = {"nature": "perte_carte", "enfant": str(child_of(foyer)), "date_debut": "2026-09-01"}
    task = open_task(db_session, reported(db_session, ctx, family, answers))

    assert task.service_id in agent.service_ids and task.lane == "Accueil"
    with pytest.raises(DemandeNotFound):
        tasks.claim(db_session, ctx, school_agent, task.id)
