"""The policy check's rules that the publication tests do not reach: document types and
the retention period, on the crèche as shipped."""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from procedures import catalogue
from procedures.definitions import RequiredDocument
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
