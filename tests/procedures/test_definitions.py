"""Procedure metadata: parsing, French problems, opening windows, the stored JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date

import pytest
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.models import Foyer
from procedures import catalogue, demandes
from procedures.definitions import DefinitionError, Window, definition_from_dict, load_definition
from procedures.demandes import FamilyActor
from procedures.errors import ProcedureClosed
from procedures.models import Role
from procedures.progress import EngineContext
from tests.factories import make_account, make_service


def test_every_built_in_metadata_survives_the_stored_json_form() -> None:
    for code in catalogue.built_in_codes():
        definition, _ = catalogue.read_built_in(code)

        stored = json.loads(catalogue.metadata_json(definition))

        assert definition_from_dict(stored) == definition


def test_problems_are_listed_together_in_french() -> None:
    with pytest.raises(DefinitionError) as error:
        load_definition('title = "x"\n[[fields]]\nname = "a"\ntype = "photo"\n')

    problems = error.value.problems
    assert "la clé « code » est obligatoire" in problems
    assert "la clé « lanes » est obligatoire" in problems
    assert "champ « a » : type inconnu « photo »" in problems


def test_unreadable_toml_is_reported_not_raised() -> None:
    with pytest.raises(DefinitionError) as error:
        load_definition("code = [unclosed")

    assert error.value.problems[0].startswith("métadonnées illisibles")


@pytest.mark.parametrize(
    ("window", "day", "open_"),
    [
        (Window((3, 1), (6, 30)), date(2027, 3, 1), True),
        (Window((3, 1), (6, 30)), date(2027, 6, 30), True),
        (Window((3, 1), (6, 30)), date(2027, 7, 1), False),
        (Window((11, 15), (1, 31)), date(2026, 12, 24), True),  # across the new year
        (Window((11, 15), (1, 31)), date(2027, 1, 31), True),
        (Window((11, 15), (1, 31)), date(2027, 2, 1), False),
    ],
)
def test_opening_window(window: Window, day: date, open_: bool) -> None:
    assert window.is_open(day) is open_


def test_a_closed_procedure_refuses_new_drafts(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    make_service(db_session, code="petite-enfance")
    definition, bpmn = catalogue.read_built_in("creche")
    summer_only = definition_from_dict(
        asdict(definition) | {"window": {"opens": "06-01", "closes": "08-15"}}
    )
    catalogue.publish(db_session, clock, summer_only, bpmn, None)
    family = FamilyActor(
        make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id).id, foyer.id
    )

    with pytest.raises(ProcedureClosed):  # the frozen clock stands on 1 September
        demandes.create_draft(db_session, EngineContext(clock=clock), family, "creche")
