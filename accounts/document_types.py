"""Administration of document types: this installation's validity, reuse and accepted formats.

The types and their labels are defined in code (coffre.catalogue); a global administrator
overrides a type's rules, which the vault applies to documents deposited afterwards (a
document keeps the validity computed when it was deposited). Every administrator may read
them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from accounts.organisation import (
    InvalidValue,
    NotFound,
    administrator,
    global_administrator,
    record,
)
from coffre.catalogue import (
    DOCUMENT_TYPES,
    JPEG,
    KNOWN_FORMATS,
    PDF,
    PNG,
    DocumentType,
    DocumentTypeSetting,
    Validity,
    configured_type,
)
from coffre.clock import Clock

FORMAT_NAMES = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}
MAX_MONTHS = 600


@dataclass(frozen=True)
class DocumentTypeView:
    code: str
    label: str
    validity: Validity
    months: int
    reusable: bool
    formats: tuple[str, ...]  # MIME types, in KNOWN_FORMATS' order
    customised: bool  # this installation overrides the built-in rules


@dataclass(frozen=True, kw_only=True)
class DocumentTypeRules:
    """The rules an administrator sets for one type."""

    validity: Validity
    months: int
    reusable: bool
    formats: frozenset[str]


def _view(session: Session, code: str) -> DocumentTypeView:
    kind = configured_type(session, code)
    return DocumentTypeView(
        code,
        kind.label,
        kind.validity,
        kind.months,
        kind.reusable,
        tuple(f for f in KNOWN_FORMATS if f in kind.formats),
        session.get(DocumentTypeSetting, code) is not None,
    )


def document_types(session: Session, actor_id: int) -> list[DocumentTypeView]:
    """Every document type with the rules in force here, by label."""
    administrator(session, actor_id)
    views = [_view(session, code) for code in DOCUMENT_TYPES]
    return sorted(views, key=lambda view: view.label)


def document_type_of(session: Session, actor_id: int, code: str) -> DocumentTypeView:
    """One document type with the rules in force here; NotFound for an unknown code."""
    administrator(session, actor_id)
    if code not in DOCUMENT_TYPES:
        raise NotFound()
    return _view(session, code)


def _state(kind: DocumentType) -> dict[str, Any]:
    return {
        "validity": kind.validity.value,
        "months": kind.months,
        "reusable": kind.reusable,
        "formats": [FORMAT_NAMES[f] for f in KNOWN_FORMATS if f in kind.formats],
    }


def _checked(rules: DocumentTypeRules) -> DocumentTypeRules:
    months = rules.months if rules.validity is Validity.MONTHS else 0
    if rules.validity is Validity.MONTHS and not 1 <= months <= MAX_MONTHS:
        raise InvalidValue("months", "range")
    if not rules.formats:
        raise InvalidValue("formats", "none")
    if not rules.formats <= set(KNOWN_FORMATS):
        raise InvalidValue("formats", "unknown")
    return DocumentTypeRules(
        validity=rules.validity, months=months, reusable=rules.reusable, formats=rules.formats
    )


def set_document_type_rules(
    session: Session, clock: Clock, actor_id: int, code: str, rules: DocumentTypeRules
) -> None:
    """Override a type's validity, reuse and formats (global administrators only); commits."""
    actor = global_administrator(session, actor_id)
    if code not in DOCUMENT_TYPES:
        raise NotFound()
    rules = _checked(rules)
    current = configured_type(session, code)
    wanted = replace(
        current,
        validity=rules.validity,
        months=rules.months,
        reusable=rules.reusable,
        formats=rules.formats,
    )
    before, after = _state(current), _state(wanted)
    if after == before:
        return
    setting = session.get(DocumentTypeSetting, code) or DocumentTypeSetting(code=code)
    setting.validity, setting.months, setting.reusable = (
        rules.validity,
        rules.months,
        rules.reusable,
    )
    setting.formats = ",".join(f for f in KNOWN_FORMATS if f in rules.formats)
    setting.updated_at = clock.now()
    session.add(setting)
    record(
        session,
        clock,
        actor,
        action="document_type.changed",
        target=("document_type", code),
        entity_id=None,
        before=before,
        after=after,
    )
    session.commit()


def restore_document_type(session: Session, clock: Clock, actor_id: int, code: str) -> None:
    """Drop this installation's override of a type: the built-in rules apply again; commits."""
    actor = global_administrator(session, actor_id)
    setting = session.get(DocumentTypeSetting, code) if code in DOCUMENT_TYPES else None
    if setting is None:
        raise NotFound()
    before = _state(configured_type(session, code))
    session.delete(setting)
    session.flush()
    after = _state(configured_type(session, code))
    record(
        session,
        clock,
        actor,
        action="document_type.restored",
        target=("document_type", code),
        entity_id=None,
        before=before,
        after=after,
    )
    session.commit()
