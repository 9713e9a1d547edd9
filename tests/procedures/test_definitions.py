"""Procedure metadata: parsing, French problems, opening windows, the stored JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from accounts.models import Role
from coffre.clock import FrozenClock, local_today
from coffre.models import Foyer
from procedures import catalogue, demandes
from procedures.definitions import DefinitionError, Window, definition_from_dict, load_definition
from procedures.demandes import FamilyActor
from procedures.designer.metadata import definition_toml
from procedures.errors import ProcedureClosed
from procedures.family_views import open_procedures
from procedures.forms import choice_label
from procedures.history import EngineContext
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


def test_a_procedure_is_hidden_from_families_until_its_opening_date(
    db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    make_service(db_session, code="petite-enfance")
    definition, bpmn = catalogue.read_built_in("creche")
    later = definition_from_dict(asdict(definition) | {"opens_on": "2026-09-15"})
    catalogue.publish(db_session, clock, later, bpmn, None)
    family = FamilyActor(
        make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id).id, foyer.id
    )
    ctx = EngineContext(clock=clock)

    # The frozen clock stands on 1 September: published, but neither listed nor open.
    assert open_procedures(db_session, foyer.id, local_today(clock)) == []
    with pytest.raises(ProcedureClosed):
        demandes.create_draft(db_session, ctx, family, "creche")

    clock.advance(timedelta(days=14))
    [card] = open_procedures(db_session, foyer.id, local_today(clock))
    assert card.version.code == "creche"
    assert demandes.create_draft(db_session, ctx, family, "creche").id


def test_an_opening_date_is_a_toml_date_kept_through_the_designer_s_text() -> None:
    definition = load_definition(CHOICE_HEAD + "opens_on = 2027-01-04\n")

    assert definition.opens_on == "2027-01-04"
    assert load_definition(definition_toml(definition)) == definition
    assert json.loads(catalogue.metadata_json(definition))["opens_on"] == "2027-01-04"


def test_an_opening_date_must_be_a_date() -> None:
    with pytest.raises(DefinitionError) as refused:
        load_definition(CHOICE_HEAD + 'opens_on = "bientôt"\n')

    assert refused.value.problems == [
        "opens_on : « bientôt » n'est pas une date (attendu : AAAA-MM-JJ)"
    ]


CHOICE_HEAD = 'code = "x"\ntitle = "X"\nlanes = { A = "s" }\nends = { E = "acceptee" }\n'


def test_choices_may_carry_a_french_label_beside_their_value() -> None:
    definition = load_definition(
        CHOICE_HEAD
        + """
[[fields]]
name = "nature"
type = "choice"
choices = [
    { value = "absence", label = "Une absence" },
    { value = "perte_carte", label = "La perte de la carte" },
    "autre",
]
"""
    )

    field = definition.fields[0]
    assert field.choices == ("absence", "perte_carte", "autre")
    assert choice_label(field, "perte_carte") == "La perte de la carte"
    assert choice_label(field, "autre") == "autre"  # no label declared: the value
    assert choice_label(field, None) == ""


def test_plain_choices_without_labels_stay_valid() -> None:
    definition = load_definition(
        CHOICE_HEAD + '[[fields]]\nname = "jours"\ntype = "choice"\nchoices = ["2", "3"]\n'
    )

    assert definition.fields[0].choices == ("2", "3")
    assert definition.fields[0].choice_labels == {}
    assert choice_label(definition.fields[0], "3") == "3"


def test_a_label_needs_a_known_value() -> None:
    with pytest.raises(DefinitionError) as error:
        load_definition(
            CHOICE_HEAD
            + '[[fields]]\nname = "n"\ntype = "choice"\nchoices = [{ label = "Sans valeur" }]\n'
            + 'choice_labels = { fantome = "Fantôme" }\n'
        )

    assert error.value.problems == [
        "champ « n » : un choix sans « value »",
        "champ « n » : libellé d'un choix inconnu « fantome »",
    ]


def test_every_choice_of_the_built_in_procedures_has_a_french_label() -> None:
    for code in catalogue.built_in_codes():
        definition, _ = catalogue.read_built_in(code)
        forms = [definition.fields, *(task.form for task in definition.tasks.values())]
        for field in (f for form in forms for f in form if f.type == "choice"):
            assert set(field.choice_labels) == set(field.choices), (code, field.name)
            assert all(choice_label(field, c) != c for c in field.choices), (code, field.name)


def test_labels_survive_the_stored_json_form() -> None:
    definition, _ = catalogue.read_built_in("signalement")

    stored = json.loads(catalogue.metadata_json(definition))
    nature = definition_from_dict(stored).fields[0]

    assert stored["fields"][0]["choices"] == ["absence", "perte_carte"]
    assert choice_label(nature, "perte_carte") == "La perte de la carte d'accès"


def test_a_diagram_without_human_tasks_may_have_an_empty_lanes_table() -> None:
    definition = load_definition('code = "x"\ntitle = "X"\n[lanes]\n[ends]\nfin = "acceptee"\n')

    assert definition.lanes == {}


@pytest.mark.parametrize(
    ("kind", "taken"),
    [("text", "pai"), ("boolean", "allergies"), ("text", "vaccins")],
    ids=["pai-on-text", "allergies-on-a-box", "unknown"],
)
def test_a_field_takes_from_the_childs_file_only_what_fits_its_type(kind: str, taken: str) -> None:
    text = f'code = "x"\ntitle = "x"\n[lanes]\n[[fields]]\nname = "a"\ntype = "{kind}"\n'

    with pytest.raises(DefinitionError) as error:
        load_definition(text + f'from_child = "{taken}"\n')

    assert error.value.problems[0].startswith("champ « a » : from_child vaut « pai »")


def test_the_stored_json_names_what_a_field_takes_from_the_childs_file_only_where_set() -> None:
    creche = json.loads(catalogue.metadata_json(catalogue.read_built_in("creche")[0]))
    periscolaire = json.loads(catalogue.metadata_json(catalogue.read_built_in("periscolaire")[0]))

    assert all("from_child" not in item for item in creche["fields"])
    taken = {item["name"]: item.get("from_child") for item in periscolaire["fields"]}
    assert taken["allergies"] == "pai" and taken["allergies_precisions"] == "allergies"
    assert taken["cantine"] is None


# Documents asked according to the family's answers ------------------------------------------

CONDITIONAL = (
    CHOICE_HEAD
    + """
[[fields]]
name = "raison"
type = "choice"
choices = ["fratrie", "travail"]

[[documents]]
type = "attestation_employeur"
when = { field = "raison", values = ["travail"] }
"""
)


def test_a_conditional_document_applies_only_to_the_answers_it_names() -> None:
    [document] = load_definition(CONDITIONAL).documents

    assert document.applies({"raison": "travail"})
    assert not document.applies({"raison": "fratrie"}) and not document.applies({})


def test_a_condition_survives_the_stored_json_and_the_designer_s_text() -> None:
    definition = load_definition(CONDITIONAL)

    assert load_definition(definition_toml(definition)) == definition
    assert 'when = { field = "raison", values = ["travail"] }' in definition_toml(definition)
    stored = json.loads(catalogue.metadata_json(definition))
    assert definition_from_dict(stored) == definition
    creche, _ = catalogue.read_built_in("creche")  # stored as before conditions existed
    assert all("when" not in d for d in json.loads(catalogue.metadata_json(creche))["documents"])


def test_a_condition_needs_a_field_and_its_values() -> None:
    with pytest.raises(DefinitionError) as error:
        load_definition(CONDITIONAL.replace('{ field = "raison", values = ["travail"] }', '"x"'))

    assert error.value.problems == [
        "justificatif « attestation_employeur » : « when » s'écrit "
        '{ field = "nom_du_champ", values = ["valeur", …] }'
    ]
