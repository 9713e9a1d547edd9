"""The residence certificate for a school registration driven end to end: the foyer's address
is noted for the agent, who compares it with the proof and issues the certificate into the
vault, or refuses with a reason the family reads."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Channel, Document, Foyer
from coffre.vault import Vault
from procedures import catalogue, demandes
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
    events_of,
    living_at,
    open_task,
    publish,
    templates_sent,
    work,
    workflow_data,
)
from tests.procedures.operations.test_attestations import page_text

CODE = "attestation_domicile"


@pytest.fixture
def scolaire(db_session: Session) -> Service:
    service = make_service(db_session, code="scolaire")
    service.entity.name = "Ville de Bellerive"
    db_session.flush()
    return service


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    publish(db_session, clock, CODE)
    return agent_of(db_session, clock, scolaire)


def submitted(
    session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, CODE)
    proof = deposit(vault, session, foyer, pdf_of(8100), issued_on=date(2026, 8, 10))
    answers = {"enfant": str(child_of(foyer))}
    return demandes.submit(session, ctx, family, draft.id, answers, [proof.id])


def certificates(session: Session, foyer: Foyer) -> list[Document]:
    query = select(Document).where(
        Document.foyer_id == foyer.id, Document.type_code == "attestation_mairie"
    )
    return list(session.scalars(query))


def test_the_agent_confirms_the_address_and_the_certificate_lands_in_the_vault(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, "12 rue des Lilas")
    demande = submitted(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    assert (task.spec_id, task.title) == (
        "verifier_domicile",
        "Vérifier le justificatif de domicile",
    )
    [noted] = events_of(db_session, demande, "adresse_relevee")
    assert noted.internal and noted.comment == (
        "Adresse du dossier du foyer : 12 rue des Lilas, 33600 Bellerive. "
        "Comparez-la au justificatif."
    )
    assert certificates(db_session, foyer) == []  # only once the agent confirmed it

    demande = work(db_session, ctx, agent, demande, {"decision": "delivrer"})

    assert demande.status is DemandeStatus.ACCEPTEE and demande.closed_at is not None
    [certificate] = certificates(db_session, foyer)
    assert certificate.channel is Channel.MAIRIE and certificate.member_id == child_of(foyer)
    text = page_text(b"".join(vault.plaintext(db_session, certificate, check_digest=True)))
    for expected in (
        "Attestation de domicile", "la famille Martin", "12 rue des Lilas,", "33600 Bellerive",
        "Lou Martin, ", "Ville de Bellerive", str(demande.number),
    ):  # fmt: skip
        assert expected.encode("windows-1252") in text
    assert workflow_data(db_session, demande)["attestation"] == {
        "generee": True,
        "document_id": certificate.id,
    }
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_the_agent_refuses_a_proof_in_another_name_with_a_reason(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, "12 rue des Lilas")
    demande = submitted(db_session, ctx, family, vault, foyer)
    reason = "Le justificatif est au nom d'une autre personne que les adultes du foyer."

    demande = work(db_session, ctx, agent, demande, {"decision": "refuser", "motif": reason})

    assert demande.status is DemandeStatus.REFUSEE
    [decided] = events_of(db_session, demande, "decision")
    assert not decided.internal and decided.comment == reason
    assert certificates(db_session, foyer) == []
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_a_foyer_without_an_address_is_told_to_the_agent(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted(db_session, ctx, family, vault, foyer)

    [noted] = events_of(db_session, demande, "adresse_relevee")
    assert noted.comment.startswith("Le dossier du foyer n'indique pas d'adresse")
    assert workflow_data(db_session, demande)["domicile"] == {"adresse": "", "renseignee": False}


def test_the_proof_of_address_must_be_under_three_months(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, CODE)
    old = deposit(vault, db_session, foyer, pdf_of(8101), issued_on=date(2026, 4, 1))

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(
            db_session, ctx, family, draft.id, {"enfant": str(child_of(foyer))}, [old.id]
        )

    assert any(
        "Justificatif de domicile de moins de 3 mois" in p for p in incomplete.value.problems
    )


def test_only_the_proof_of_address_is_asked() -> None:
    definition, _ = catalogue.read_built_in(CODE)

    assert [(d.type, d.max_age_months) for d in definition.documents] == [
        ("justificatif_domicile", 3)
    ]
