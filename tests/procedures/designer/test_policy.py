"""The policy check's rules that the publication tests do not reach: document types and
the retention period, on the crèche as shipped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from procedures import catalogue
from procedures.definitions import FAMILY_LANE, Condition, RequiredDocument, load_definition
from procedures.designer.policy import policy_problems
from tests.factories import make_agent, make_service


def test_the_shipped_creche_passes_once_its_service_is_staffed(
    db_session: Session, clock: FrozenClock
) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    toml = (catalogue.BUILT_IN / "creche.toml").read_text()
    service = make_service(db_session, code="petite-enfance")
    unstaffed = policy_problems(db_session, definition, bpmn, toml)
    make_agent(db_session, clock, service)

    assert {p.element_id for p in unstaffed} == {"Lane_accueil", "Lane_commission"}
    assert policy_problems(db_session, definition, bpmn, toml) == []


@pytest.mark.parametrize("code", catalogue.built_in_codes())
def test_every_shipped_procedure_passes_once_its_services_are_staffed(
    db_session: Session, clock: FrozenClock, code: str
) -> None:
    """The catalogue a town adopts on day one is publishable as shipped, decision tables
    included, as soon as each lane's service has an agent."""
    definition, bpmn = catalogue.read_built_in(code)
    toml = (catalogue.BUILT_IN / f"{code}.toml").read_text(encoding="utf-8")
    decisions = catalogue.read_decisions(catalogue.BUILT_IN / f"{code}.bpmn")
    for service in sorted(set(definition.lanes.values()) - {FAMILY_LANE}):
        make_agent(db_session, clock, make_service(db_session, code=service))

    assert catalogue.check_files(catalogue.BUILT_IN / f"{code}.bpmn") == []
    assert policy_problems(db_session, definition, bpmn, toml, decisions) == []


def test_an_unknown_document_type_and_no_retention_period_are_named(
    db_session: Session, clock: FrozenClock
) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    make_agent(db_session, clock, make_service(db_session, code="petite-enfance"))
    asking = dataclasses.replace(
        definition, documents=(*definition.documents, RequiredDocument(type="passeport_chat"))
    )
    toml = (catalogue.BUILT_IN / "creche.toml").read_text().replace("retention_days = 1825\n", "")

    messages = [p.message for p in policy_problems(db_session, asking, bpmn, toml)]

    assert any(
        m.startswith("justificatif « passeport_chat » : ce type n'existe pas") for m in messages
    )
    assert any("aucune durée de conservation" in m for m in messages)


def test_a_document_asked_on_a_field_or_a_value_the_form_lacks_is_named(
    db_session: Session, clock: FrozenClock
) -> None:
    definition, bpmn = catalogue.read_built_in("derogation_scolaire")
    make_agent(db_session, clock, make_service(db_session, code="scolaire"))
    garde, travail, medical = definition.documents
    wrong = (
        dataclasses.replace(garde, when=Condition("raisons", ("garde",))),
        dataclasses.replace(travail, when=Condition("raison", ("travail", "chomage"))),
        medical,
    )

    messages = [
        p.message
        for p in policy_problems(
            db_session, dataclasses.replace(definition, documents=wrong), bpmn, None
        )
    ]

    assert messages == [
        "justificatif « attestation_garde » : il dépend du champ « raisons », qui n'est pas une "
        "liste de choix du formulaire de la famille : il ne serait jamais demandé. Corrigez le "
        "nom du champ dans « when ».",
        "justificatif « attestation_employeur » : « Motif de la demande » n'a pas le choix "
        "« chomage ». Corrigez les valeurs de « when ».",
    ]


def test_a_condition_comparing_a_choice_with_a_value_it_cannot_take_is_named(
    db_session: Session, clock: FrozenClock
) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    make_agent(db_session, clock, make_service(db_session, code="petite-enfance"))
    typo = bpmn.replace(b"decision == 'attente'", b"decision == 'atente'")
    never = bpmn.replace(b"decision == 'attente'", b"False")

    [problem] = policy_problems(db_session, definition, typo, None)
    [constant] = policy_problems(db_session, definition, never, None)

    assert problem.element_id == constant.element_id
    assert problem.message.startswith(
        "flux « liste d'attente » : la condition « decision == 'atente' » ne peut jamais être "
        "vraie (« atente » n'est pas un choix du champ « Décision de la commission » : "
        "« attente », « place », « refus »)"
    )
    assert "(elle est toujours fausse)" in constant.message


def test_steps_in_a_sub_process_or_a_called_procedure_and_a_reminder_s_end_are_understood(
    db_session: Session, clock: FrozenClock
) -> None:
    examples = Path(__file__).parents[1] / "bpmn" / "examples"
    toml = (examples / "aide_activites.toml").read_text()
    bpmn = (examples / "aide_activites.bpmn").read_bytes()
    make_agent(db_session, clock, make_service(db_session, code="scolaire"))
    definition = load_definition(toml)
    without_reminder_end = load_definition(toml.replace('Fin_rappel = "en_instruction"\n', ""))
    no_deadline = load_definition(toml.replace("[tasks.controler_pieces]\nsla_hours = 16\n", ""))

    assert policy_problems(db_session, definition, bpmn, toml) == []
    assert policy_problems(db_session, without_reminder_end, bpmn, toml) == []
    [problem] = policy_problems(db_session, no_deadline, bpmn, toml)
    assert problem.element_id == "controler_pieces"  # in the called procedure, the caller's lane
    assert "aucun délai de traitement" in problem.message


def test_a_condition_reading_a_name_nothing_provides_is_named_and_decisions_provide_theirs(
    db_session: Session, clock: FrozenClock
) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    make_agent(db_session, clock, make_service(db_session, code="petite-enfance"))
    typo = bpmn.replace(b"decision == 'attente'", b"decison == 'attente'")
    comprehension = bpmn.replace(
        b"decision == 'attente'", b"any(jour == 'lundi' for jour in jours)"
    )
    from_table = bpmn.replace(b"decision == 'attente'", b"tranche == 'A'")
    table = b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"><decision id="d">'
    table += (
        b'<decisionTable><output id="o" name="tranche" /></decisionTable></decision></definitions>'
    )

    [problem] = policy_problems(db_session, definition, typo, None)

    assert problem.element_id == "Flow_attente"
    assert problem.message.startswith(
        "flux « liste d'attente » : la condition « decison == 'attente' » lit « decison », "
        "qu'aucun formulaire, table de décision, script ni opération ne fournit"
    )
    assert policy_problems(db_session, definition, comprehension, None) == []
    [unread] = policy_problems(db_session, definition, from_table, None)
    assert "« tranche »" in unread.message
    assert policy_problems(db_session, definition, from_table, None, table) == []
