"""Certificates requested by a family, issued into its vault, driven end to end to every end."""

from __future__ import annotations

import json
import re
import zlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Channel, Document, Foyer, FoyerMember
from coffre.vault import Vault
from procedures import demandes
from procedures.bpmn import engine
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, Task
from procedures.operations.attestations import generate_certificate
from procedures.operations.context import OperationContext
from procedures.tasks import AgentActor
from tests.factories import make_service
from tests.procedures.flows import agent_of, child_of, open_task, publish, work

TOWN = "Ville de Bellerive"


@pytest.fixture
def scolaire(db_session: Session) -> Service:
    service = make_service(db_session, code="scolaire")
    service.entity.name = TOWN
    db_session.flush()
    return service


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, scolaire: Service) -> None:
    publish(db_session, clock, "attestation")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    return agent_of(db_session, clock, scolaire)


def submitted(
    session: Session, ctx: EngineContext, family: FamilyActor, form: dict[str, str]
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, "attestation")
    return demandes.submit(session, ctx, family, draft.id, form, [])


def fiscal(foyer: Foyer) -> dict[str, str]:
    return {"type_attestation": "fiscale", "enfant": str(child_of(foyer)), "annee": "2025"}


def attendance(foyer: Foyer) -> dict[str, str]:
    return {
        "type_attestation": "presence",
        "enfant": str(child_of(foyer)),
        "periode": "année scolaire 2025-2026",
    }


def certificates(session: Session, foyer: Foyer) -> list[Document]:
    return list(
        session.scalars(
            select(Document).where(
                Document.foyer_id == foyer.id, Document.type_code == "attestation_mairie"
            )
        )
    )


def page_text(content: bytes) -> bytes:
    """The PDF's content streams, inflated: where its text is drawn."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S)
    return b"".join(zlib.decompress(stream) for stream in streams)


@pytest.mark.usefixtures("published")
def test_attendance_certificate_is_issued_into_the_vault_without_an_agent(
    db_session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> None:
    demande = submitted(db_session, ctx, family, attendance(foyer))

    assert demande.status is DemandeStatus.ACCEPTEE and demande.closed_at is not None
    assert db_session.scalar(select(func.count()).where(Task.demande_id == demande.id)) == 0
    [certificate] = certificates(db_session, foyer)
    assert certificate.channel is Channel.MAIRIE
    assert certificate.member_id == child_of(foyer)
    assert demande.number is not None and demande.number in certificate.original_name
    content = b"".join(vault.plaintext(db_session, certificate, check_digest=True))
    assert content.startswith(b"%PDF")
    text = page_text(content)
    for expected in (demande.number, TOWN, "Lou Martin", "année scolaire 2025-2026"):
        assert expected.encode("windows-1252") in text


@pytest.mark.usefixtures("published")
def test_names_beyond_the_pdf_fonts_are_written_without_their_accents(
    db_session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> None:
    child = db_session.get(FoyerMember, child_of(foyer))
    assert child is not None
    child.first_name, child.last_name, foyer.label = "Łucja", "Nguyễn", "Nguyễn"
    db_session.commit()

    demande = submitted(db_session, ctx, family, attendance(foyer))

    assert demande.status is DemandeStatus.ACCEPTEE
    [certificate] = certificates(db_session, foyer)
    assert b"Lucja Nguyen" in page_text(b"".join(vault.plaintext(db_session, certificate)))


@pytest.mark.usefixtures("published")
def test_fiscal_certificate_waits_for_the_agent_to_give_the_amount(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = submitted(db_session, ctx, family, fiscal(foyer))
    assert demande.status is DemandeStatus.DEPOSEE
    assert open_task(db_session, demande).spec_id == "completer_donnees"
    assert certificates(db_session, foyer) == []

    demande = work(db_session, ctx, agent, demande, {"decision": "delivrer", "montant": "1234,5"})

    assert demande.status is DemandeStatus.ACCEPTEE
    [certificate] = certificates(db_session, foyer)
    text = page_text(b"".join(vault.plaintext(db_session, certificate)))
    assert demande.number is not None and demande.number.encode() in text
    assert b"2025" in text and "1 234,50 €".encode("windows-1252") in text


@pytest.mark.usefixtures("published")
def test_delivering_without_the_amount_gives_the_task_back_to_the_agent(
    db_session: Session, ctx: EngineContext, family: FamilyActor, agent: AgentActor, foyer: Foyer
) -> None:
    demande = submitted(db_session, ctx, family, fiscal(foyer))
    first = open_task(db_session, demande)

    demande = work(db_session, ctx, agent, demande, {"decision": "delivrer"})

    again = open_task(db_session, demande)
    assert again.spec_id == "completer_donnees" and again.id != first.id
    assert demande.status is DemandeStatus.EN_INSTRUCTION
    assert certificates(db_session, foyer) == []
    demande = work(db_session, ctx, agent, demande, {"decision": "delivrer", "montant": "300"})
    assert demande.status is DemandeStatus.ACCEPTEE
    assert len(certificates(db_session, foyer)) == 1


@pytest.mark.usefixtures("published")
def test_agent_refuses_the_certificate(
    db_session: Session, ctx: EngineContext, family: FamilyActor, agent: AgentActor, foyer: Foyer
) -> None:
    demande = submitted(db_session, ctx, family, fiscal(foyer))

    demande = work(
        db_session, ctx, agent, demande, {"decision": "refuser", "motif": "Aucun accueil en 2025"}
    )

    assert demande.status is DemandeStatus.REFUSEE and demande.closed_at is not None
    assert certificates(db_session, foyer) == []


def operation_context(
    session: Session, ctx: EngineContext, demande: Demande, step_id: str
) -> OperationContext:
    data = json.loads(demande.form_data) | {"montant": 80.0}
    return OperationContext(
        session, ctx.clock, demande, "Demande d'attestation", step_id, ctx.base_url, data,
        ctx.vault,
    )  # fmt: skip


@pytest.mark.usefixtures("published")
def test_a_step_run_again_does_not_issue_a_second_certificate(
    db_session: Session, ctx: EngineContext, family: FamilyActor, foyer: Foyer
) -> None:
    demande = submitted(db_session, ctx, family, fiscal(foyer))
    context = operation_context(db_session, ctx, demande, "0f1e2d3c-step-run-twice")

    first = generate_certificate(context, {"service": "scolaire"})
    second = generate_certificate(context, {"service": "scolaire"})

    assert first == second and first["generee"] is True
    assert len(certificates(db_session, foyer)) == 1


@pytest.mark.usefixtures("published")
def test_certificate_is_committed_with_its_step_not_before(
    db_session: Session, ctx: EngineContext, family: FamilyActor, foyer: Foyer
) -> None:
    demande = submitted(db_session, ctx, family, fiscal(foyer))
    context = operation_context(db_session, ctx, demande, "5a6b7c8d-step-rolled-back")

    generate_certificate(context, {"service": "scolaire"})
    assert len(certificates(db_session, foyer)) == 1
    db_session.rollback()  # the step failed after the operation: nothing of it remains

    assert certificates(db_session, foyer) == []


@pytest.mark.usefixtures("published")
def test_certificate_result_guides_the_diagram(
    db_session: Session, ctx: EngineContext, family: FamilyActor, foyer: Foyer
) -> None:
    demande = submitted(db_session, ctx, family, fiscal(foyer))
    assert demande.workflow_state is not None

    workflow = engine.restore(demande.workflow_state, engine.OperationScriptEngine(lambda *a: {}))

    assert engine.data_of(workflow)["attestation"] == {"generee": False, "manque": "montant"}


@pytest.mark.parametrize("label", ["Famille Martin", "Foyer Martin", "famille  Martin", "Martin"])
@pytest.mark.usefixtures("published")
def test_the_certificate_names_the_family_once(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    label: str,
) -> None:
    # The demo's foyers are "Famille Martin", a sign-up's "Foyer <name>": the certificate
    # said « de la famille Famille Martin » (issue 25).
    foyer.label = label
    db_session.commit()

    submitted(db_session, ctx, family, attendance(foyer))

    [certificate] = certificates(db_session, foyer)
    text = page_text(b"".join(vault.plaintext(db_session, certificate)))
    assert b"Lou Martin, de la famille Martin, a " in text
    assert b"famille Famille" not in text and b"famille Foyer" not in text
