"""School transport driven end to end: the lines and the distance rule decide who may ride,
the agent validates, the pass lands in the vault and the fee goes to the monthly billing."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.models import Channel, Document, Foyer
from coffre.vault import Vault
from facturation import run
from facturation.models import Invoice, Unit
from procedures import catalogue, demandes, family_views
from procedures.demandes import FamilyActor
from procedures.errors import Incomplete
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus
from procedures.operations.context import OperationError
from procedures.operations.transport import parse_network, pass_valid_until, read_network
from procedures.tasks import AgentActor
from reservations import registrations
from reservations.models import ActivityKind, Enrolment
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_service
from tests.facturation.scene import grid
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
from tests.procedures.operations.test_attestations import page_text
from tests.reservations.test_bookings import make_activity

CODE = "transport_scolaire"
LILAS = "Groupe scolaire des Lilas"
FAR = "3 route de Toctoucau"  # 6.4 km from the Lilas
NEAR = "12 rue des Lilas"  # 0.6 km


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
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
    stop: str = "L1-eglise",
) -> Demande:
    draft = demandes.create_draft(session, ctx, family, CODE)
    proof = deposit(vault, session, foyer, pdf_of(8000), issued_on=date(2026, 8, 10))
    answers = {"enfant": str(child_of(foyer)), "ecole": LILAS, "arret": stop}
    return demandes.submit(session, ctx, family, draft.id, answers, [proof.id])


def passes(session: Session, foyer: Foyer) -> list[Document]:
    query = select(Document).where(
        Document.foyer_id == foyer.id, Document.type_code == "attestation_mairie"
    )
    return list(session.scalars(query))


def test_a_far_home_on_the_school_s_line_is_validated_and_gets_its_pass(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, FAR)
    demande = submitted(db_session, ctx, family, vault, foyer)
    assert workflow_data(db_session, demande)["eligibilite"] == "eligible"
    task = open_task(db_session, demande)
    assert (task.spec_id, task.title) == (
        "valider_inscription",
        "Valider l'inscription au transport",
    )
    assert passes(db_session, foyer) == []  # only once validated
    [situated] = events_of(db_session, demande, "transport_etudie")
    assert situated.internal and situated.comment == (
        "Domicile à 6,4 km de l'école « Groupe scolaire des Lilas ». Arrêt « Toctoucau, place "
        "de l'Église » sur la « Ligne 1 : Toctoucau – Les Lilas », qui dessert l'école."
    )

    demande = work(db_session, ctx, agent, demande, {"decision": "valider"})

    assert demande.status is DemandeStatus.ACCEPTEE and demande.closed_at is not None
    [card] = passes(db_session, foyer)
    assert card.channel is Channel.MAIRIE and card.member_id == child_of(foyer)
    text = page_text(b"".join(vault.plaintext(db_session, card, check_digest=True)))
    for expected in (
        "Carte de transport scolaire", "Lou Martin", LILAS, "Ligne 1 : Toctoucau",
        "Toctoucau, place de l'Église", "31 août 2027", str(demande.number),
    ):  # fmt: skip
        assert expected.encode("windows-1252") in text
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]


def test_a_home_near_the_school_is_refused_with_the_rule_s_reason(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, NEAR)

    demande = submitted(db_session, ctx, family, vault, foyer, stop="L1-lilas")

    assert demande.status is DemandeStatus.REFUSEE and demande.closed_at is not None
    assert workflow_data(db_session, demande)["transport"] == {
        "ecole": LILAS, "ligne": "Ligne 1 : Toctoucau – Les Lilas",
        "arret": "Groupe scolaire des Lilas", "dessert_ecole": True, "rue_connue": True,
        "distance_km": 0.6,
    }  # fmt: skip
    assert decision_message(db_session, demande).startswith(
        "Votre domicile est à moins de 3 km de l'école"
    )
    assert passes(db_session, foyer) == []
    assert templates_sent(db_session, family) == ["demande_recue", "decision"]
    assert family_views.refused_by_rules(db_session, demande)  # no agent: the family is told


def test_a_stop_on_a_line_that_does_not_serve_the_school_is_refused(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, FAR)

    demande = submitted(db_session, ctx, family, vault, foyer, stop="L2-magonty")

    assert demande.status is DemandeStatus.REFUSEE
    assert workflow_data(db_session, demande)["eligibilite"] == "hors_ligne"
    assert "pas sur une ligne qui va à l'école" in decision_message(db_session, demande)
    [situated] = events_of(db_session, demande, "transport_etudie")
    assert situated.comment.endswith("qui ne dessert pas l'école.")


def test_an_unlisted_street_is_left_to_the_agent_who_may_refuse_with_a_reason(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    living_at(db_session, foyer, "3 chemin des Vignes")
    demande = submitted(db_session, ctx, family, vault, foyer)
    assert workflow_data(db_session, demande)["eligibilite"] == "a_verifier"
    [situated] = events_of(db_session, demande, "transport_etudie")
    assert situated.comment.startswith(
        "Rue du foyer absente du fichier des lignes : distance à vérifier."
    )

    reason = "Votre rue est desservie par le car de la Région : adressez-vous à elle."
    demande = work(db_session, ctx, agent, demande, {"decision": "refuser", "motif": reason})

    assert demande.status is DemandeStatus.REFUSEE
    assert decision_message(db_session, demande) == reason
    assert passes(db_session, foyer) == []
    assert not family_views.refused_by_rules(db_session, demande)  # an agent decided


def test_the_proof_of_address_must_be_recent(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, CODE)
    old = deposit(vault, db_session, foyer, pdf_of(8001), issued_on=date(2026, 4, 1))
    answers = {"enfant": str(child_of(foyer)), "ecole": LILAS, "arret": "L1-eglise"}

    with pytest.raises(Incomplete) as incomplete:
        demandes.submit(db_session, ctx, family, draft.id, answers, [old.id])

    assert any(
        "Justificatif de domicile de moins de 3 mois" in p for p in incomplete.value.problems
    )


def test_the_accepted_pass_is_billed_monthly_at_the_family_s_band(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
) -> None:
    bus = make_activity(db_session, scolaire, kind=ActivityKind.TRANSPORT)
    bus.name, bus.site = "Transport scolaire des Lilas", LILAS
    grid(db_session, clock, bus, Unit.FORFAIT_MENSUEL, factor=10)
    foyer.tranche_qf, foyer.qf_valid_until = "B", date(2027, 8, 31)
    living_at(db_session, foyer, FAR)
    demande = work(
        db_session, ctx, agent, submitted(db_session, ctx, family, vault, foyer),
        {"decision": "valider"},
    )  # fmt: skip

    assert registrations.apply_closed(db_session, clock) == 1
    [enrolment] = db_session.scalars(select(Enrolment)).all()
    assert (enrolment.activity_id, enrolment.demande_id) == (bus.id, demande.id)
    assert (enrolment.starts_on, enrolment.ends_on) == (date(2026, 9, 1), date(2027, 8, 31))
    clock.current = datetime(2026, 10, 2, 8, 0, tzinfo=UTC)
    run.emit_entity(db_session, clock, scolaire.entity, date(2026, 9, 1))
    [invoice] = db_session.scalars(select(Invoice).where(Invoice.foyer_id == foyer.id)).all()
    [line] = invoice.lines
    assert (line.activity_id, line.unit, line.amount_cents) == (bus.id, Unit.FORFAIT_MENSUEL, 1200)


def test_a_refused_pass_enrols_no_one(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    scolaire: Service,
) -> None:
    bus = make_activity(db_session, scolaire, kind=ActivityKind.TRANSPORT)
    bus.site = LILAS
    living_at(db_session, foyer, NEAR)
    submitted(db_session, ctx, family, vault, foyer)

    assert registrations.apply_closed(db_session, clock) == 1
    assert db_session.scalars(select(Enrolment)).all() == []


# --- the town's lines ----------------------------------------------------------------------


def test_the_form_offers_exactly_the_stops_and_schools_of_the_lines_file() -> None:
    definition, _ = catalogue.read_built_in(CODE)
    fields = {field.name: field for field in definition.fields}
    network = read_network()

    assert set(fields["arret"].choices) == set(network.stops)
    served = {school for stop in network.stops.values() for school in stop.schools}
    assert set(fields["ecole"].choices) == served
    for code, stop in network.stops.items():
        assert stop.name in fields["arret"].choice_labels[code]


def test_every_line_s_school_has_a_distance_from_every_neighbourhood() -> None:
    raw = tomllib.loads(Path(catalogue.BUILT_IN / "transport_scolaire_lignes.toml").read_text())
    schools = {school for line in raw["lignes"] for school in line["ecoles"]}

    for area in raw["quartiers"]:
        assert set(area["distances_km"]) == schools, area["nom"]


def test_a_broken_lines_file_names_every_problem() -> None:
    with pytest.raises(OperationError) as broken:
        parse_network(
            """
            [[lignes]]
            nom = "Ligne A"
            ecoles = ["École A"]
            arrets = [
                { code = "A1", nom = "Mairie" }, { code = "A1", nom = "Gare" }, { nom = "Poste" },
            ]
            [[lignes]]
            nom = "Ligne B"
            [[quartiers]]
            nom = "Nord"
            rues = ["rue Haute"]
            distances_km = { "École A" = "loin" }
            [[quartiers]]
            nom = "Sud"
            rues = ["rue Basse", "Rue basse"]
            distances_km = { "École A" = 2 }
            [[quartiers]]
            nom = "Est"
            rues = ["rue Basse"]
            distances_km = { "École A" = 1 }
            """
        )

    message = str(broken.value)
    assert "l'arrêt « A1 » figure deux fois" in message
    assert "Ligne A : un arrêt sans « code » ou sans « nom »" in message
    assert "ligne « Ligne B » : un « nom » et des « ecoles » sont attendus" in message
    assert "Nord : chaque distance est un nombre de kilomètres" in message
    assert "« rue Basse » est dans les quartiers Sud et Est" in message


def test_a_missing_lines_file_is_an_operation_error(tmp_path: Path) -> None:
    with pytest.raises(OperationError):
        read_network(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("day", "until"),
    [
        (date(2026, 9, 1), date(2027, 8, 31)),
        (date(2027, 2, 10), date(2027, 8, 31)),
        (date(2027, 5, 2), date(2028, 8, 31)),  # registrations for the coming year
    ],
)
def test_the_pass_is_valid_for_the_school_year_it_is_for(day: date, until: date) -> None:
    assert pass_valid_until(day) == until
