"""Renewing last year's registrations in a few clicks when the renewal window opens.

A procedure with a `[renewal]` window (the after-school and canteen registration: May to
August) lets a family renew each demande accepted before the window opened: a new draft on
the current version, with last year's answers carried over and, for each document asked,
the one already valid in the vault (last year's if still valid) ticked. The family checks,
changes what changed, and sends it: it is a new demande, handled like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from coffre.catalogue import document_type
from coffre.clock import PARIS, local_today
from coffre.models import FoyerMember, Grant
from procedures.catalogue import definition_of
from procedures.definitions import Definition, Window
from procedures.demandes import (
    FamilyActor,
    create_draft,
    family_demande,
    next_season_start,
    save_draft,
)
from procedures.errors import InvalidTransition
from procedures.family_views import requirements_of
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus, ProcedureVersion


@dataclass(frozen=True)
class Renewable:
    demande: Demande  # last year's accepted demande
    title: str
    child: FoyerMember | None


def renewable(session: Session, foyer_id: int, today: date) -> list[Renewable]:
    """The foyer's demandes that can be renewed today, one per procedure and child."""
    found = []
    for code, (definition, opened) in _open_windows(session, today).items():
        latest: dict[str, Demande] = {}
        renewed: set[str] = set()
        for demande in _demandes(session, foyer_id, code):
            child = _child(demande)
            if _day(demande) >= opened and demande.status is not DemandeStatus.ANNULEE:
                renewed.add(child)
            elif demande.status is DemandeStatus.ACCEPTEE and _day(demande) < opened:
                latest[child] = demande  # ordered by id: the last one wins
        for child, demande in latest.items():
            if child not in renewed:
                member = session.get(FoyerMember, int(child)) if child.isdigit() else None
                found.append(Renewable(demande, definition.title, member))
    return found


def renew(session: Session, ctx: EngineContext, actor: FamilyActor, demande_id: int) -> Demande:
    """A draft renewing the demande (the one already started, if the family clicked twice)."""
    previous = family_demande(session, actor, demande_id)
    today = local_today(ctx.clock)
    code = previous.version.code
    windows = _open_windows(session, today)
    if code not in windows:
        raise InvalidTransition(f"procedure {code!r} has no renewal open today")
    definition, opened = windows[code]
    child = _child(previous)
    for demande in _demandes(session, actor.foyer_id, code):
        if _child(demande) == child and _day(demande) >= opened:
            if demande.status is DemandeStatus.BROUILLON:
                return demande
            if demande.status is not DemandeStatus.ANNULEE:
                raise InvalidTransition(f"demande {demande_id} was renewed already")
    if previous.status is not DemandeStatus.ACCEPTEE or _day(previous) >= opened:
        raise InvalidTransition(f"demande {demande_id} cannot be renewed")
    draft = create_draft(session, ctx, actor, code)
    fields = {field.name for field in definition.fields}
    answers = {k: v for k, v in _answers(previous).items() if k in fields and v is not None}
    chosen = _documents(session, actor.foyer_id, definition, previous, today, child)
    return save_draft(
        session, ctx, actor, draft.id, {**answers, "_documents": ",".join(map(str, chosen))}
    )


def _documents(
    session: Session,
    foyer_id: int,
    definition: Definition,
    previous: Demande,
    today: date,
    child: str,
) -> list[int]:
    """For each document asked, one still valid: last year's if it still is, else the
    newest; never a single-use document (a certificate issued for last year's request)."""
    shared_before = set(
        session.scalars(select(Grant.document_id).where(Grant.demande_id == previous.id))
    )
    child_id = int(child) if child.isdigit() else None
    season = next_season_start(definition, today)
    chosen: list[int] = []
    answers = _answers(previous)
    for requirement in requirements_of(
        session, foyer_id, definition, today, child_id, answers=answers
    ):
        # Valid on the day the new season starts, when the procedure asks for that.
        until = season if requirement.required.valid_until_season and season else today
        usable = [
            d
            for d in requirement.documents
            if document_type(d.type_code).reusable and (d.valid_until or until) >= until
        ]
        usable.sort(key=lambda d: d.id not in shared_before)  # stable: newest first otherwise
        chosen += [d.id for d in usable[: requirement.required.count] if d.id not in chosen]
    return chosen


def _open_windows(session: Session, today: date) -> dict[str, tuple[Definition, date]]:
    """Current procedures whose renewal window is open today, with the day it opened."""
    windows = {}
    # Read on every visit of the family's home page: the settings only, not the diagrams.
    settings = load_only(ProcedureVersion.id, ProcedureVersion.code, ProcedureVersion.metadata_json)
    for version in session.scalars(
        select(ProcedureVersion).options(settings).where(ProcedureVersion.is_current.is_(True))
    ):
        definition = definition_of(version)
        if definition.renewal is not None and definition.renewal.is_open(today):
            windows[version.code] = (definition, _opened(definition.renewal, today))
    return windows


def _opened(window: Window, today: date) -> date:
    opening = date(today.year, *window.opens)
    return opening if opening <= today else date(today.year - 1, *window.opens)


def _demandes(session: Session, foyer_id: int, code: str) -> list[Demande]:
    return list(
        session.scalars(
            select(Demande)
            .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
            .where(Demande.foyer_id == foyer_id, ProcedureVersion.code == code)
            .order_by(Demande.id)
        )
    )


def _answers(demande: Demande) -> dict[str, object]:
    return dict(json.loads(demande.form_data or "{}"))


def _child(demande: Demande) -> str:
    """The child the demande is about, as a string (drafts keep text, sent demandes ids)."""
    return str(_answers(demande).get("enfant", ""))


def _day(demande: Demande) -> date:
    """The day the demande was sent (or started, for a draft), in the town's time."""
    return (demande.submitted_at or demande.created_at).astimezone(PARIS).date()
