"""Forms made in the browser with form-js (bpmn.io's form builder), to and from our fields.

The designer shows each form (the family's, and each agent step's) in the form builder as a
form-js schema made from the procedure's fields; what the administrator builds comes back as
a schema, checked here and turned into the same `FormField`s the metadata holds. So a form is
stored with its version like every other setting, validated on the server by the same rules
(`procedures.forms.clean_form`) and rendered in the DSFR for families and agents: form-js only
edits it. Components with no meaning for the portal are refused by name, in French.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from procedures.definitions import CHILD_FILE, Condition, FormField

SCHEMA_VERSION = 16
# A field of the family's children: form-js has no such component, so a select (one child) or
# a checklist (several) carries this property, and the portal fills in the foyer's children.
CHILDREN_PROPERTY = "enfants_du_foyer"
# A field filled from the chosen child's file carries what it takes ("pai", "allergies").
FROM_CHILD_PROPERTY = "fiche_enfant"
# Shown only for some answers to another field: "champ=valeur1,valeur2" (definitions.Condition).
SHOWN_WHEN_PROPERTY = "visible_si"
MAX_COMPONENTS = 60
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
# Layout and text components carry nothing to store: kept out of the fields, no error.
DECORATIONS = frozenset({"text", "spacer", "separator", "html", "image"})


class FormSchemaError(ValueError):
    """The schema cannot become a form of the portal; `problems` say why, in French."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def schema_of(fields: Sequence[FormField], form_id: str = "formulaire") -> dict[str, Any]:
    """A form-js schema showing the fields, in their order."""
    return {
        "type": "default",
        "id": form_id,
        "schemaVersion": SCHEMA_VERSION,
        "components": [_component(field) for field in fields],
    }


def _component(field: FormField) -> dict[str, Any]:
    component: dict[str, Any] = {
        "key": field.name,
        "label": field.label,
        "id": f"champ_{field.name}",
        "validate": {"required": field.required},
    }
    if field.help:
        component["description"] = field.help
    if field.from_child:
        component["properties"] = {FROM_CHILD_PROPERTY: field.from_child}
    if field.when is not None:
        shown = f"{field.when.field}={','.join(field.when.values)}"
        component["properties"] = {**component.get("properties", {}), SHOWN_WHEN_PROPERTY: shown}
    if field.type == "choice":
        kind = "radio" if len(field.choices) <= 4 else "select"
        values = [{"value": v, "label": field.choice_labels.get(v, v)} for v in field.choices]
        return component | {"type": kind, "values": values}
    if field.type in ("child", "children"):
        kind = "select" if field.type == "child" else "checklist"
        properties = {CHILDREN_PROPERTY: "oui"}
        return component | {"type": kind, "values": [], "properties": properties}
    kinds = {"text": "textfield", "number": "number", "boolean": "checkbox", "date": "datetime"}
    component["type"] = kinds[field.type]
    if field.type == "date":
        component |= {"subtype": "date", "dateLabel": field.label}
    return component


def fields_of(schema: Any) -> tuple[FormField, ...]:
    """The fields a form-js schema describes; raise FormSchemaError naming each problem."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("components"), list):
        raise FormSchemaError(["le formulaire est illisible (schéma form-js attendu)"])
    components = [c for c in schema["components"] if isinstance(c, Mapping)]
    if len(components) > MAX_COMPONENTS:
        raise FormSchemaError([f"{MAX_COMPONENTS} champs au plus par formulaire"])
    problems: list[str] = []
    fields: list[FormField] = []
    seen: set[str] = set()
    for index, component in enumerate(components, start=1):
        if component.get("type") in DECORATIONS:
            continue
        field = _field(index, component, problems)
        if field is None:
            continue
        if field.name in seen:
            problems.append(f"champ « {field.label} » : la clé « {field.name} » est en double")
        seen.add(field.name)
        fields.append(field)
    if problems:
        raise FormSchemaError(problems)
    return tuple(fields)


def _field(index: int, component: Mapping[str, Any], problems: list[str]) -> FormField | None:
    kind, key = str(component.get("type", "")), str(component.get("key", ""))
    label = " ".join(str(component.get("label") or component.get("dateLabel") or key).split())
    named = f"champ « {label or index} »"
    if not _KEY.match(key):
        problems.append(
            f"{named} : clé « {key[:60]} » invalide (minuscules, chiffres et _, commençant par "
            "une lettre) : elle nomme la réponse dans les conditions"
        )
        return None
    validate = component.get("validate")
    required = bool(validate.get("required")) if isinstance(validate, Mapping) else False
    properties = component.get("properties")
    common = FormField(
        name=key,
        label=label[:200] or key,
        type="text",
        required=required,
        help=str(component.get("description") or "")[:500],
        when=_shown_when(properties),
    )
    children = isinstance(properties, Mapping) and CHILDREN_PROPERTY in properties
    if kind in ("select", "radio") and children:
        return replace(common, type="child")
    if kind == "checklist" and children:
        return replace(common, type="children")
    if kind in ("select", "radio"):
        return _choice(named, component, common, problems)
    simple = {"textfield": "text", "textarea": "text", "number": "number", "checkbox": "boolean"}
    if kind in simple:
        return replace(common, type=simple[kind], from_child=_from_child(properties, simple[kind]))
    if kind == "datetime" and component.get("subtype", "date") == "date":
        return replace(common, type="date")
    problems.append(
        f"{named} : le composant « {kind or '?'} » n'est pas pris en charge (texte, nombre, "
        "date, case à cocher, liste de choix, enfant(s) du foyer)"
    )
    return None


def _shown_when(properties: Any) -> Condition | None:
    """The answers the field is shown for, as the portal wrote them ("champ=v1,v2")."""
    shown = str(properties.get(SHOWN_WHEN_PROPERTY, "")) if isinstance(properties, Mapping) else ""
    name, _sep, values = shown.partition("=")
    chosen = tuple(value for value in values.split(",") if value)
    return Condition(name, chosen) if name and chosen else None


def _from_child(properties: Any, kind: str) -> str:
    """What the field takes from the child's file, if it says so and its type fits."""
    taken = str(properties.get(FROM_CHILD_PROPERTY, "")) if isinstance(properties, Mapping) else ""
    return taken if CHILD_FILE.get(taken) == kind else ""


def _choice(
    named: str, component: Mapping[str, Any], common: FormField, problems: list[str]
) -> FormField | None:
    values = component.get("values")
    pairs = [
        (str(item.get("value", "")), str(item.get("label") or item.get("value", "")))
        for item in (values if isinstance(values, list) else [])
        if isinstance(item, Mapping) and str(item.get("value", ""))
    ]
    if not pairs:
        problems.append(f"{named} : ajoutez les choix proposés (valeur et libellé)")
        return None
    choices = tuple(value for value, _label in pairs)
    labels = {value: label for value, label in pairs if label != value}
    return replace(common, type="choice", choices=choices, choice_labels=labels)
