"""The family quotient: checked by an agent, recorded on the foyer, to every end."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from coffre.vault import Vault
from procedures import demandes, tasks
from procedures.demandes import FamilyActor
from procedures.errors import DemandeNotFound, Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus, TaskState
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.procedures.flows import agent_of, open_task, publish, work

VALIDATED = {
    "decision": "valider",
    "quotient": "812",
    "tranche": "C",
    "valide_jusqu_au": "2027-08-31",
}


@pytest.fixture
def scolaire(db_session: Session) -> Service:
    return make_service(db_session, code="scolaire")


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, scolaire: Service) -> None:
    publish(db_session, clock, "quotient_familial")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    return agent_of(db_session, clock, scolaire)


def submitted(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    proof: str = "attestation_caf",
    form: dict[str, str] | None = None,
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, "quotient_familial")
    document = deposit(vault, session, foyer, pdf_of(5000), type_code=proof)
    values = form or {"nombre_parts": "2,5", "revenu_fiscal_reference": "31200"}
    return demandes.submit(session, ctx, family, draft.id, values, [document.id])


def bracket(foyer: Foyer) -> tuple[object, ...]:
    return foyer.quotient_familial, foyer.tranche_qf, foyer.qf_valid_until, foyer.qf_set_at


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize("proof", ["attestation_caf", "avis_imposition"])
def test_validated_quotient_is_recorded_on_the_foyer(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    proof: str,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer, proof)
    assert open_task(db_session, demande).spec_id == "valider_quotient"

    demande = work(db_session, ctx, agent, demande, VALIDATED)

    assert demande.status is DemandeStatus.ACCEPTEE and demande.closed_at is not None
    assert bracket(foyer) == (812, "C", date(2027, 8, 31), clock.now())
    history = db_session.scalars(
        select(DemandeEvent).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "quotient_enregistre"
        )
    ).all()
    assert len(history) == 1 and "tranche C" in history[0].comment


@pytest.mark.usefixtures("published")
def test_refused_quotient_leaves_the_foyer_unchanged(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    foyer.quotient_familial, foyer.tranche_qf = 640, "B"
    foyer.qf_valid_until, foyer.qf_set_at = date(2026, 12, 31), clock.now()
    db_session.commit()
    before = bracket(foyer)
    demande = submitted(db_session, ctx, family, vault, foyer)

    demande = work(
        db_session, ctx, agent, demande,
        VALIDATED | {"decision": "refuser", "motif": "Attestation illisible"},
    )  # fmt: skip

    assert demande.status is DemandeStatus.REFUSEE
    db_session.expire(foyer)
    assert bracket(foyer) == before


@pytest.mark.usefixtures("published")
def test_family_cannot_set_its_own_quotient(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    form = {"nombre_parts": "2", "quotient": "1", "tranche": "A", "valide_jusqu_au": "2030-01-01"}
    demande = submitted(db_session, ctx, family, vault, foyer, form=form)
    task = open_task(db_session, demande)

    assert {"quotient", "tranche", "valide_jusqu_au"}.isdisjoint(json.loads(demande.form_data))
    with pytest.raises(DemandeNotFound):
        tasks.complete_for_family(db_session, ctx, family, task.id, VALIDATED | {"tranche": "A"})
    assert bracket(foyer) == (None, None, None, None)

    work(db_session, ctx, agent, demande, VALIDATED)
    assert (foyer.quotient_familial, foyer.tranche_qf) == (812, "C")


@pytest.mark.usefixtures("published")
def test_validating_without_a_bracket_is_refused_and_changes_nothing(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    tasks.claim(db_session, ctx, agent, task.id)

    with pytest.raises(Incomplete) as incomplete:
        tasks.complete(db_session, ctx, agent, task.id, {"decision": "valider", "quotient": "812"})

    assert any("tranche" in problem for problem in incomplete.value.problems)
    assert any("valable" in problem for problem in incomplete.value.problems)
    assert open_task(db_session, demande).id == task.id
    assert task.state is TaskState.CLAIMED
    assert bracket(foyer) == (None, None, None, None)


@pytest.mark.usefixtures("published")
def test_submission_without_a_caf_certificate_or_tax_notice_names_both(
    db_session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "quotient_familial")
    address = deposit(vault, db_session, foyer, pdf_of(5001))

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(db_session, ctx, family, draft.id, {"nombre_parts": "2"}, [address.id])

    assert incomplete.value.problems == [
        "Justificatif manquant, périmé ou non partagé : "
        "Attestation CAF / quotient familial ou Avis d'imposition."
    ]
