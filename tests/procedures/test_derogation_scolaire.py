"""School outside the catchment area driven end to end: the reason decides the only document
asked, the demande waits for the commission's date, the agent records its decision, and the
directors of both schools receive it by e-mail (on the test's SMTP server)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Document, Foyer
from coffre.vault import Vault
from notifications import outbox
from notifications.outbox import MailSettings
from procedures import catalogue, demandes, tasks
from procedures.demandes import FamilyActor
from procedures.errors import Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus
from procedures.operations.context import OperationError
from procedures.operations.derogation import parse_rules, read_rules
from procedures.operations.sectorisation import read_sectorisation
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.fixtures import Mailbox
from tests.procedures.flows import (
    agent_of,
    child_of,
    decision_message,
    events_of,
    living_at,
    open_task,
    publish,
    templates_sent,
    work,
    workflow_data,
)

CODE = "derogation_scolaire"
LILAS, JAURES = "Groupe scolaire des Lilas", "Groupe scolaire Jean-Jaurès"
LILAS_DIRECTOR, JAURES_DIRECTOR = (
    "direction.lilas@bellerive.example",
    "direction.jaures@bellerive.example",
)
IN_LILAS = "12 rue des Lilas"  # the Lilas' secteur
# Filed on 1 September 2026 (the test clock): the first commission a week on or later.
COMMISSION = datetime(2026, 9, 24, 6, 0, tzinfo=UTC)  # 8:00 in Bellerive


@pytest.fixture
def scolaire(db_session: Session) -> Service:
    return make_service(db_session, code="scolaire")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, scolaire: Service) -> AgentActor:
    publish(db_session, clock, CODE)
    return agent_of(db_session, clock, scolaire)


def answers(foyer: Foyer, reason: str = "fratrie", school: str = JAURES) -> dict[str, str]:
    return {
        "enfant": str(child_of(foyer)), "ecole": school, "niveau": "elementaire",
        "raison": reason, "precisions": "Sa sœur Jeanne est en CM1.",
    }  # fmt: skip


def submitted(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    foyer: Foyer,
    reason: str = "fratrie",
    school: str = JAURES,
    documents: list[Document] | None = None,
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, CODE)
    ids = [document.id for document in documents or []]
    return demandes.submit(session, ctx, family, draft.id, answers(foyer, reason, school), ids)


def at_the_commission(
    session: Session, ctx: EngineContext, clock: FrozenClock, demande: Demande
) -> None:
    """The morning the commission meets: the worker wakes the demande."""
    clock.current = COMMISSION
    assert tasks.fire_timers(session, ctx) == 1
    session.refresh(demande)


def delivered(session: Session, clock: FrozenClock, mail: MailSettings) -> None:
    session.commit()
    outbox.send_due(session, clock, mail)


def test_a_demande_waits_for_the_commission_which_grants_it_and_both_directors_are_told(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    foyer: Foyer,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    living_at(db_session, foyer, IN_LILAS)

    demande = submitted(db_session, ctx, family, foyer)

    assert demande.status is DemandeStatus.DEPOSEE and demande.wakes_at == COMMISSION
    [scheduled] = events_of(db_session, demande, "commission_prevue")
    assert (
        not scheduled.internal
        and "commission des dérogations scolaires du 24 septembre 2026" in (scheduled.comment)
    )
    [situated] = events_of(db_session, demande, "derogation_preparee")
    assert situated.internal and situated.comment == (
        f"École du secteur : {LILAS}. École demandée : {JAURES}. Commission du 24 septembre 2026."
    )
    assert tasks.fire_timers(db_session, ctx) == 0  # not before the day

    at_the_commission(db_session, ctx, clock, demande)
    task = open_task(db_session, demande)
    assert (task.spec_id, task.title) == (
        "decision_commission",
        "Enregistrer la décision de la commission",
    )
    demande = work(db_session, ctx, agent, demande, {"decision": "accorder"})

    assert demande.status is DemandeStatus.ACCEPTEE and demande.closed_at is not None
    assert decision_message(db_session, demande) == ""
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]
    [told] = events_of(db_session, demande, "directeurs_informes")
    assert told.internal and told.comment == (
        f"Décision envoyée à la direction : {JAURES}, {LILAS}."
    )
    delivered(db_session, clock, mail)
    for director in (LILAS_DIRECTOR, JAURES_DIRECTOR):
        [message] = mailbox.to(director)
        assert message["Subject"] == f"Dérogation scolaire {demande.number} : accordée"
        body = message.get_content()
        assert "Lou Martin" in body and f"L'enfant sera accueilli au {JAURES}." in body
        assert f"École du secteur : {LILAS}" in body
        assert "Jeanne" not in body and "fratrie" not in body  # never the family's reason


def test_the_commission_refuses_with_a_reason_the_family_reads(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    foyer: Foyer,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    living_at(db_session, foyer, IN_LILAS)
    demande = submitted(db_session, ctx, family, foyer)
    at_the_commission(db_session, ctx, clock, demande)

    reason = "L'école Jean-Jaurès n'a plus de place en CM2 pour la rentrée."
    demande = work(db_session, ctx, agent, demande, {"decision": "refuser", "motif": reason})

    assert demande.status is DemandeStatus.REFUSEE
    assert decision_message(db_session, demande) == reason
    delivered(db_session, clock, mail)
    [message] = mailbox.to(JAURES_DIRECTOR)
    assert message["Subject"].endswith(": refusée")
    body = message.get_content()
    assert "L'enfant relève de l'école de son secteur." in body and reason not in body


def test_asking_for_the_secteur_s_own_school_ends_at_once_without_a_commission(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, IN_LILAS)

    demande = submitted(db_session, ctx, family, foyer, school=LILAS)

    assert demande.status is DemandeStatus.CLASSEE and demande.closed_at is not None
    assert decision_message(db_session, demande).startswith(
        "L'école demandée est celle du secteur de votre domicile"
    )
    assert events_of(db_session, demande, "commission_prevue") == []
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_a_home_outside_the_secteurs_with_no_commission_ahead_goes_to_the_service_at_once(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    foyer: Foyer,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    living_at(db_session, foyer, "3 chemin des Vignes")
    clock.current = datetime(2028, 7, 3, 8, 0, tzinfo=UTC)  # after the last date listed

    demande = submitted(db_session, ctx, family, foyer)
    tasks.fire_timers(db_session, ctx)

    assert open_task(db_session, demande).spec_id == "decision_commission"
    [situated] = events_of(db_session, demande, "derogation_preparee")
    assert situated.comment.startswith(
        f"Adresse hors des secteurs connus. École demandée : {JAURES}. Aucune date de commission"
    )
    work(db_session, ctx, agent, demande, {"decision": "accorder"})
    [told] = events_of(db_session, demande, "directeurs_informes")
    assert told.comment == f"Décision envoyée à la direction : {JAURES}."
    delivered(db_session, clock, mail)
    assert len(mailbox.to(JAURES_DIRECTOR)) == 1 and mailbox.to(LILAS_DIRECTOR) == []


# --- the documents each reason asks for ----------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "missing"),
    [
        ("garde", "Attestation de garde (assistante maternelle ou proche) de moins de 12 mois"),
        ("travail", "Attestation de l'employeur de moins de 3 mois"),
        ("medical", "Certificat médical de moins de 3 mois de l'enfant concerné"),
    ],
)
def test_each_reason_asks_its_own_proof_and_no_other(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    foyer: Foyer,
    reason: str,
    missing: str,
) -> None:
    with pytest.raises(Incomplete) as incomplete:
        submitted(db_session, ctx, family, foyer, reason=reason)

    assert incomplete.value.problems == [
        f"Justificatif manquant, périmé ou non partagé : {missing}."
    ]


def test_a_sibling_or_another_reason_asks_no_document(
    db_session: Session, ctx: EngineContext, family: FamilyActor, agent: AgentActor, foyer: Foyer
) -> None:
    for reason in ("fratrie", "autre"):
        assert submitted(db_session, ctx, family, foyer, reason=reason).number is not None


def test_the_nanny_s_certificate_is_enough_for_a_childminder_reason(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, IN_LILAS)
    nanny = deposit(
        vault, db_session, foyer, pdf_of(9100), type_code="attestation_garde",
        issued_on=date(2026, 6, 15),
    )  # fmt: skip

    demande = submitted(db_session, ctx, family, foyer, reason="garde", documents=[nanny])

    assert demande.status is DemandeStatus.DEPOSEE
    assert workflow_data(db_session, demande)["derogation"] == {
        "ecole_secteur": LILAS, "ecole_demandee": JAURES, "meme_ecole": False,
        "commission": "2026-09-24", "seance": COMMISSION.isoformat(),
    }  # fmt: skip


# --- the shipped files ---------------------------------------------------------------------


def test_the_form_offers_the_town_s_schools_each_with_its_director() -> None:
    definition, _ = catalogue.read_built_in(CODE)
    schools = {field.name: field for field in definition.fields}["ecole"].choices

    assert set(schools) == set(read_sectorisation().schools.values())
    assert set(schools) == set(read_rules().directors)


def test_the_next_commission_leaves_time_to_prepare_the_file() -> None:
    rules = read_rules()

    assert rules.next_commission(date(2026, 9, 17)) == date(2026, 9, 24)
    assert rules.next_commission(date(2026, 9, 18)) == date(2026, 11, 19)
    assert rules.next_commission(date(2028, 6, 16)) is None


def test_a_broken_file_names_every_problem() -> None:
    with pytest.raises(OperationError) as broken:
        parse_rules(
            """
            [[ecoles]]
            nom = "École A"
            directeur = "pas une adresse"
            [derogations]
            delai_jours = -1
            commissions = ["demain"]
            """
        )

    message = str(broken.value)
    assert "École A : « directeur » est une adresse e-mail" in message
    assert "« commissions » est une liste de dates AAAA-MM-JJ" in message
    assert "« delai_jours » est un nombre de jours" in message
