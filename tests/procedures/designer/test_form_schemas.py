"""Forms built with form-js become the portal's fields, and the portal's fields open in it."""

from __future__ import annotations

import pytest

from procedures import catalogue
from procedures.definitions import FormField
from procedures.designer.form_schemas import FormSchemaError, fields_of, schema_of


def every_built_in_form() -> list[tuple[str, tuple[FormField, ...]]]:
    forms = []
    for code in catalogue.built_in_codes():
        definition, _bpmn = catalogue.read_built_in(code)
        forms.append((f"{code}:famille", definition.fields))
        forms += [(f"{code}:{spec}", task.form) for spec, task in definition.tasks.items()]
    return [(name, fields) for name, fields in forms if fields]


@pytest.mark.parametrize(("name", "fields"), every_built_in_form())
def test_each_built_in_form_goes_to_form_js_and_back_unchanged(
    name: str, fields: tuple[FormField, ...]
) -> None:
    assert fields_of(schema_of(fields, name)) == fields


def test_the_components_an_administrator_drags_become_typed_fields() -> None:
    schema = {
        "type": "default",
        "components": [
            {"type": "text", "text": "# Votre demande"},  # layout only: no field
            {"type": "textarea", "key": "motif", "label": "Motif", "validate": {"required": True}},
            {"type": "datetime", "subtype": "date", "key": "arrivee", "dateLabel": "Arrivée"},
            {
                "type": "select", "key": "tranche", "label": "Tranche",
                "values": [{"value": "a", "label": "Tranche A"}, {"value": "b", "label": "b"}],
            },
            {"type": "checklist", "key": "enfants", "label": "Enfants",
             "properties": {"enfants_du_foyer": "oui"}},
            {"type": "checkbox", "key": "accord", "label": "J'accepte"},
        ],
    }  # fmt: skip

    fields = fields_of(schema)

    assert [(f.name, f.type, f.required) for f in fields] == [
        ("motif", "text", True),
        ("arrivee", "date", False),
        ("tranche", "choice", False),
        ("enfants", "children", False),
        ("accord", "boolean", False),
    ]
    assert fields[2].choices == ("a", "b") and fields[2].choice_labels == {"a": "Tranche A"}
    assert fields[1].label == "Arrivée"


def test_what_the_portal_cannot_use_is_refused_by_name() -> None:
    schema = {
        "components": [
            {"type": "filepicker", "key": "piece", "label": "Pièce"},
            {"type": "textfield", "key": "Nom complet", "label": "Nom"},
            {"type": "radio", "key": "choix", "label": "Choix", "values": []},
            {"type": "number", "key": "age", "label": "Âge"},
            {"type": "number", "key": "age", "label": "Âge encore"},
        ]
    }

    with pytest.raises(FormSchemaError) as refused:
        fields_of(schema)

    assert refused.value.problems == [
        "champ « Pièce » : le composant « filepicker » n'est pas pris en charge (texte, nombre, "
        "date, case à cocher, liste de choix, enfant(s) du foyer)",
        "champ « Nom » : clé « Nom complet » invalide (minuscules, chiffres et _, commençant par "
        "une lettre) : elle nomme la réponse dans les conditions",
        "champ « Choix » : ajoutez les choix proposés (valeur et libellé)",
        "champ « Âge encore » : la clé « age » est en double",
    ]


@pytest.mark.parametrize("schema", [None, [], {"components": "x"}, "texte"])
def test_a_schema_that_is_not_one_is_refused(schema: object) -> None:
    with pytest.raises(FormSchemaError) as refused:
        fields_of(schema)

    assert refused.value.problems == ["le formulaire est illisible (schéma form-js attendu)"]
