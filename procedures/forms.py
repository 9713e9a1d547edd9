"""Checking what a family or an agent typed against a procedure's declared fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from coffre.models import FoyerMember, MemberRole
from procedures.definitions import FormField

MAX_TEXT = 2000


def clean_form(
    fields: Sequence[FormField], raw: Mapping[str, Any], members: Sequence[FoyerMember]
) -> tuple[dict[str, Any], list[str]]:
    """The typed values, and a French message for each field that is missing or wrong."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for field in fields:
        text = str(raw.get(field.name, "") or "").strip()
        if field.when is not None and not field.when.holds(raw):
            # Not asked for these answers: neither checked nor kept.
            values[field.name] = False if field.type == "boolean" else None
            continue
        if not text:
            if field.required:
                errors.append(f"« {field.label} » est à renseigner.")
            # Conditions may name any declared field: an empty one is None (or False).
            values[field.name] = False if field.type == "boolean" else None
            continue
        try:
            values[field.name] = _typed(field, text, members)
        except ValueError as exc:
            errors.append(f"« {field.label} » : {exc}")
    return values, errors


def _typed(field: FormField, text: str, members: Sequence[FoyerMember]) -> Any:
    if field.type == "text":
        if len(text) > MAX_TEXT:
            raise ValueError(f"{MAX_TEXT} caractères au plus.")
        return text
    if field.type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("date attendue au format JJ/MM/AAAA.") from None
    if field.type == "choice":
        if text not in field.choices:
            raise ValueError("choisissez une des valeurs proposées.")
        return text
    if field.type == "number":
        try:
            return float(Decimal(text.replace(",", ".")))
        except InvalidOperation:
            raise ValueError("nombre attendu.") from None
    if field.type == "boolean":
        return text.lower() in ("1", "true", "oui", "on")
    if field.type == "children":
        return _children(text, members)
    return _child(text, members)


def _children(text: str, members: Sequence[FoyerMember]) -> list[dict[str, Any]]:
    """Several children of the foyer (ids separated by commas), each with its first name:
    a multi-instance task runs once per child and is named after them."""
    children = {str(m.id): m for m in members if m.role is MemberRole.ENFANT}
    chosen = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not chosen or any(part not in children for part in chosen):
        raise ValueError("choisissez des enfants de votre foyer.")
    return [{"id": children[part].id, "prenom": children[part].first_name} for part in chosen]


def _child(text: str, members: Sequence[FoyerMember]) -> int:
    children = {str(m.id): m.id for m in members if m.role is MemberRole.ENFANT}
    if text not in children:
        raise ValueError("choisissez un enfant de votre foyer.")
    return children[text]


def choice_label(field: FormField, value: Any) -> str:
    """What a person reads for a stored value: the choice's declared label, else the value."""
    text = "" if value is None else str(value)
    return field.choice_labels.get(text, text)


def number_text(value: Any) -> str:
    """A stored number as a French reader writes it: « 2026 », not « 2026.0 » (numbers are
    kept as floats); « 812,5 », not « 812.5 »."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f").replace(".", ",")


def from_child_file(
    fields: Sequence[FormField],
    previous: Mapping[str, Any],
    answers: Mapping[str, Any],
    members: Sequence[FoyerMember],
) -> dict[str, Any]:
    """The answers with what the chosen child's file records (its PAI and allergies) in the
    fields that declare `from_child`, when the child has just been chosen and the field was
    left empty: a field the family filled or emptied for that child stays as it is."""
    filled = dict(answers)
    child_field = next((f.name for f in fields if f.type == "child"), None)
    chosen = str(answers.get(child_field, "") or "") if child_field else ""
    if not chosen or chosen == str(previous.get(child_field or "", "") or ""):
        return filled
    child = next((m for m in members if m.role is MemberRole.ENFANT and str(m.id) == chosen), None)
    if child is None:
        return filled
    recorded = {
        "pai": "oui" if child.has_pai or child.allergies else "",
        "allergies": child.allergies or "",
    }
    for field in fields:
        if field.from_child and not str(filled.get(field.name, "") or "").strip():
            filled[field.name] = recorded[field.from_child]
    return filled
