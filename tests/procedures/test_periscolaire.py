"""Canteen and after-school registration driven end to end; the vault's documents reused."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, granted_documents
from coffre.models import Document, Foyer, FoyerMember, MemberRole
from coffre.vault import Vault
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.errors import Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
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
def scolaire(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="scolaire")
    publish(db_session, clock, "periscolaire")
    return service


@pytest.fixture
def family(db_session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    return family_of(db_session, clock, foyer)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    return agent_of(db_session, clock, scolaire)


def insurance(vault: Vault, session: Session, foyer: Foyer) -> Document:
    return deposit(
        vault, session, foyer, pdf_of(6000), type_code="attestation_assurance",
        issued_on=date(2026, 7, 1),
    )  # fmt: skip


def vaccinations(vault: Vault, session: Session, foyer: Foyer, child_id: int) -> Document:
    return deposit(
        vault, session, foyer, pdf_of(6001 + child_id), type_code="carnet_vaccination",
        member_id=child_id,
    )  # fmt: skip


def form(child_id: int, **answers: str) -> dict[str, str]:
    return {"enfant": str(child_id), "cantine": "on", "garderie_soir": "on", **answers}


def submitted(
    session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> Demande:
    child = child_of(foyer)
    draft = demandes.create_draft(session, ctx, family, "periscolaire")
    ids = [insurance(vault, session, foyer).id, vaccinations(vault, session, foyer, child).id]
    return demandes.submit(session, ctx, family, draft.id, form(child), ids)


@pytest.mark.parametrize(
    ("decision", "status"),
    [("valider", DemandeStatus.ACCEPTEE), ("refuser", DemandeStatus.REFUSEE)],
)
def test_periscolaire_reaches_each_end(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    decision: str,
    status: DemandeStatus,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    assert (task.spec_id, task.title) == ("verifier_dossier", "Vérifier le dossier")

    demande = work(db_session, ctx, agent, demande, {"decision": decision, "motif": ""})

    assert demande.status is status and demande.closed_at is not None
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_chosen_services_and_allergies_are_kept_typed(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    child = child_of(foyer)
    draft = demandes.create_draft(db_session, ctx, family, "periscolaire")
    ids = [insurance(vault, db_session, foyer).id, vaccinations(vault, db_session, foyer, child).id]
    answers = form(
        child, centre_loisirs_mercredi="oui", garderie_matin="non", allergies="on",
        allergies_precisions="Arachide : trousse d'urgence avec stylo d'adrénaline.",
    )  # fmt: skip

    demande = demandes.submit(db_session, ctx, family, draft.id, answers, ids)

    values = json.loads(demande.form_data)
    assert values["cantine"] is values["garderie_soir"] is values["centre_loisirs_mercredi"] is True
    assert values["garderie_matin"] is False
    assert values["allergies"] is True and values["allergies_precisions"].startswith("Arachide")


def test_documents_deposited_once_serve_both_school_registrations(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    publish(db_session, clock, "inscription_scolaire")
    child = child_of(foyer)
    address = deposit(vault, db_session, foyer, pdf_of(6100), issued_on=date(2026, 8, 10))
    livret = deposit(vault, db_session, foyer, pdf_of(6101), type_code="livret_famille")
    carnet = vaccinations(vault, db_session, foyer, child)
    assurance = insurance(vault, db_session, foyer)

    school = demandes.create_draft(db_session, ctx, family, "inscription_scolaire")
    school_form = {"enfant": str(child), "niveau": "CE1", "date_entree": "2026-09-01"}
    demandes.submit(
        db_session, ctx, family, school.id, school_form, [address.id, livret.id, carnet.id]
    )
    care = demandes.create_draft(db_session, ctx, family, "periscolaire")
    demandes.submit(db_session, ctx, family, care.id, form(child), [assurance.id, carnet.id])

    reader = AgentReader(agent.account_id, agent.service_ids)
    assert set(granted_documents(db_session, reader, school.id)) == {address, livret, carnet}
    assert set(granted_documents(db_session, reader, care.id)) == {assurance, carnet}
    stored = db_session.scalar(
        select(func.count()).select_from(Document).where(Document.foyer_id == foyer.id)
    )
    assert stored == 4  # nothing uploaded twice
    assert {school.status, care.status} == {DemandeStatus.DEPOSEE}


def test_the_vaccination_record_must_be_the_named_childs(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    sister = FoyerMember(role=MemberRole.ENFANT, first_name="Zoé", last_name="Martin")
    foyer.members.append(sister)
    db_session.commit()
    draft = demandes.create_draft(db_session, ctx, family, "periscolaire")
    brothers = vaccinations(vault, db_session, foyer, child_of(foyer))

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(db_session, ctx, family, draft.id, form(sister.id), [brothers.id])

    assert incomplete.value.problems == [
        "Justificatif manquant, périmé ou non partagé : Attestation d'assurance.",
        "Justificatif manquant, périmé ou non partagé : "
        "Carnet de vaccination de l'enfant concerné.",
    ]


def test_an_insurance_ending_before_the_school_year_is_refused(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    scolaire: Service,
    vault: Vault,
    foyer: Foyer,
) -> None:
    clock.current = clock.current.replace(month=7, day=2)  # registering in early July
    child = child_of(foyer)
    # Issued on 1 August 2025: valid for twelve months, valid today but not on 1 September.
    old = deposit(
        vault, db_session, foyer, pdf_of(6100), type_code="attestation_assurance",
        issued_on=date(2025, 8, 1),
    )  # fmt: skip
    draft = demandes.create_draft(db_session, ctx, family, "periscolaire")
    record = deposit(
        vault, db_session, foyer, pdf_of(6200), type_code="carnet_vaccination",
        member_id=child, issued_on=date(2024, 1, 15),
    )  # fmt: skip
    ids = [old.id, record.id]

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(db_session, ctx, family, draft.id, form(child), ids)

    assert incomplete.value.problems == [
        "Justificatif manquant, périmé ou non partagé : Attestation d'assurance, "
        "valable au moins jusqu'au 01/09/2026."
    ]
    fresh = insurance(vault, db_session, foyer)  # issued 1 July 2026: covers the start
    demande = demandes.submit(db_session, ctx, family, draft.id, form(child), [fresh.id, ids[1]])
    assert demande.status is DemandeStatus.DEPOSEE
