"""A family's demandes: draft, submit (with consent per document), cancel, answer the agent."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre import consent
from coffre.catalogue import add_months, document_type
from coffre.clock import local_today
from coffre.consent import DemandeRef
from coffre.models import Document, DocumentState, Foyer
from procedures.catalogue import current_version, definition_of
from procedures.definitions import Definition, RequiredDocument
from procedures.errors import DemandeNotFound, Incomplete, InvalidTransition, ProcedureClosed
from procedures.forms import clean_form
from procedures.history import EngineContext
from procedures.models import (
    OPEN_STATUSES,
    Demande,
    DemandeStatus,
    ProcedureVersion,
    Task,
    TaskState,
)
from procedures.progress import all_or_nothing, set_status, start_workflow, version_of

DECIDED = frozenset({DemandeStatus.ACCEPTEE, DemandeStatus.REFUSEE, DemandeStatus.CLASSEE})


@dataclass(frozen=True)
class FamilyActor:
    """An adult of the foyer, or an agent at the counter acting on its behalf (on record)."""

    account_id: int
    foyer_id: int


def family_demande(session: Session, actor: FamilyActor, demande_id: int) -> Demande:
    """The demande if it belongs to the actor's foyer; "not found" otherwise."""
    demande = session.get(Demande, demande_id)
    if demande is None or demande.foyer_id != actor.foyer_id:
        raise DemandeNotFound(f"demande {demande_id} is not in foyer {actor.foyer_id}")
    return demande


def create_draft(session: Session, ctx: EngineContext, actor: FamilyActor, code: str) -> Demande:
    """Start a draft on the procedure's current version, if it is open today."""
    version = current_version(session, code)
    assert version is not None
    if not definition_of(version).open_on(local_today(ctx.clock)):
        raise ProcedureClosed(f"procedure {code!r} is closed today")
    now = ctx.clock.now()
    demande = Demande(
        foyer_id=actor.foyer_id,
        procedure_version_id=version.id,
        status=DemandeStatus.BROUILLON,
        form_data="{}",
        created_by=actor.account_id,
        created_at=now,
        updated_at=now,
    )
    session.add(demande)
    session.commit()
    return demande


def draft_with(
    session: Session, ctx: EngineContext, actor: FamilyActor, code: str, answers: Mapping[str, Any]
) -> Demande:
    """A draft of the procedure started with these answers (from another page: a day to
    justify...); the one already started with them if there is one (a double click)."""
    wanted = {key: str(value) for key, value in answers.items()}
    drafts = session.scalars(
        select(Demande)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(
            Demande.foyer_id == actor.foyer_id,
            Demande.status == DemandeStatus.BROUILLON,
            ProcedureVersion.code == code,
        )
        .order_by(Demande.id.desc())
    )
    for draft in drafts:
        if wanted.items() <= json.loads(draft.form_data or "{}").items():
            return draft
    draft = create_draft(session, ctx, actor, code)
    return save_draft(session, ctx, actor, draft.id, wanted)


def save_draft(
    session: Session,
    ctx: EngineContext,
    actor: FamilyActor,
    demande_id: int,
    form: Mapping[str, Any],
) -> Demande:
    """Keep what was typed so far (unchecked) in the draft."""
    demande = family_demande(session, actor, demande_id)
    if demande.status is not DemandeStatus.BROUILLON:
        raise InvalidTransition(f"demande {demande_id} is no longer a draft")
    demande.form_data = json.dumps({key: str(value) for key, value in form.items()})
    demande.updated_at = ctx.clock.now()
    session.commit()
    return demande


def submit(
    session: Session,
    ctx: EngineContext,
    actor: FamilyActor,
    demande_id: int,
    form: Mapping[str, Any],
    document_ids: Sequence[int],
) -> Demande:
    """Check completeness, grant the chosen documents, number the demande, start its diagram.

    Raises Incomplete listing every missing or wrong item; nothing is granted or started then.
    """
    demande = family_demande(session, actor, demande_id)
    if demande.status is not DemandeStatus.BROUILLON:
        raise InvalidTransition(f"demande {demande_id} was already submitted")
    values, documents, problems = _checked(session, ctx, demande, form, document_ids)
    if problems:
        raise Incomplete(problems)
    with all_or_nothing(session):
        ref = DemandeRef(demande.id, actor.foyer_id, is_open=True)
        consent.grant_all(session, ctx.clock, actor.account_id, documents, ref)
        # Changed after the grants' reads, so that the demande is written once, not twice.
        demande.form_data = json.dumps(values)
        demande.number = _number(ctx, demande)
        demande.submitted_at = ctx.clock.now()
        set_status(session, ctx, demande, DemandeStatus.DEPOSEE, actor.account_id, "submitted")
        start_workflow(session, ctx, demande)
        session.commit()
    return demande


def problems_before_submit(
    session: Session,
    ctx: EngineContext,
    actor: FamilyActor,
    demande_id: int,
    form: Mapping[str, Any],
    document_ids: Sequence[int],
) -> list[str]:
    """What would stop the draft from being submitted as it stands, in French, as `submit`
    would list it; nothing is changed."""
    demande = family_demande(session, actor, demande_id)
    return _checked(session, ctx, demande, form, document_ids)[2]


def _checked(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    form: Mapping[str, Any],
    document_ids: Sequence[int],
) -> tuple[dict[str, Any], list[Document], list[str]]:
    """The typed answers, the chosen documents that may serve, and every problem."""
    definition = definition_of(version_of(session, demande))
    foyer = session.get(Foyer, demande.foyer_id)
    assert foyer is not None
    values, problems = clean_form(definition.fields, form, foyer.members)
    documents = _chosen_documents(session, demande.foyer_id, document_ids)
    used = consent.used_elsewhere(session, documents, demande.id)
    problems += [_used_message(d) for d in documents if d.id in used]
    documents = [d for d in documents if d.id not in used]
    problems += _missing_documents(ctx, definition, values, documents)
    return values, documents, problems


def _chosen_documents(session: Session, foyer_id: int, ids: Sequence[int]) -> list[Document]:
    if not ids:
        return []
    documents = session.scalars(
        select(Document).where(Document.id.in_(ids), Document.foyer_id == foyer_id)
    ).all()
    if len(documents) != len(set(ids)):
        raise DemandeNotFound("a chosen document is not in the foyer's vault")
    return list(documents)


def _missing_documents(
    ctx: EngineContext, definition: Definition, values: Mapping[str, Any], documents: list[Document]
) -> list[str]:
    today = local_today(ctx.clock)
    season = next_season_start(definition, today)
    problems = []
    for required in definition.documents:
        if not required.applies(values):
            continue  # the family's answers do not call for it
        until = season if required.valid_until_season and season else today
        usable = [d for d in documents if _satisfies(d, required, values, today, until)]
        if len(usable) < required.count:
            problems.append(_missing_message(required, until if until != today else None))
    return problems


def next_season_start(definition: Definition, today: date) -> date | None:
    """The next start of the season (e.g. the school year) on or after today."""
    if definition.season_start is None:
        return None
    month, day = definition.season_start
    start = date(today.year, month, day)
    return start if start >= today else date(today.year + 1, month, day)


def _satisfies(
    document: Document,
    required: RequiredDocument,
    values: Mapping[str, Any],
    today: date,
    until: date,
) -> bool:
    """Whether a document meets the requirement: right type, current, valid up to `until`."""
    if document.type_code not in required.types or document.superseded_at is not None:
        return False
    if document.state in (DocumentState.REFUSE, DocumentState.EXPIRE):
        return False
    if document.valid_until is not None and document.valid_until < until:
        return False
    if required.max_age_months and document.issued_on < add_months(today, -required.max_age_months):
        return False
    return not (required.member == "child" and document.member_id != values.get("enfant"))


def _missing_message(required: RequiredDocument, until: date | None) -> str:
    label = " ou ".join(document_type(code).label for code in required.types)
    if required.max_age_months:
        label += f" de moins de {required.max_age_months} mois"
    if required.member == "child":
        label += " de l'enfant concerné"
    if until is not None:
        label += f", valable au moins jusqu'au {until.strftime('%d/%m/%Y')}"
    return f"Justificatif manquant, périmé ou non partagé : {label}."


def _used_message(document: Document) -> str:
    label = document_type(document.type_code).label
    issued = document.issued_on.strftime("%d/%m/%Y")
    return (
        f"Le justificatif « {label} » délivré le {issued} a déjà servi pour une autre demande : "
        "ce type de justificatif ne sert qu'à une seule demande. Déposez-en un nouveau."
    )


def _number(ctx: EngineContext, demande: Demande) -> str:
    """The year of submission and the draft's own id: unique without a lock or a count.

    Counting the year's demandes gave two simultaneous submissions the same number (and
    scanned the table). Numbers now skip the ids of drafts never submitted; they stay
    unique, short and readable over the phone. Older numbers, from a count, are all below
    any new id, so the two schemes never meet.
    """
    return f"{local_today(ctx.clock).year}-{demande.id:06d}"


def cancel(session: Session, ctx: EngineContext, actor: FamilyActor, demande_id: int) -> Demande:
    """The family withdraws its demande before a decision; its tasks are cancelled."""
    demande = family_demande(session, actor, demande_id)
    if demande.status not in OPEN_STATUSES:
        raise InvalidTransition(f"demande {demande_id} is already decided")
    for task in session.scalars(select(Task).where(Task.demande_id == demande.id)):
        if task.state not in (TaskState.DONE, TaskState.CANCELLED):
            task.state = TaskState.CANCELLED
    set_status(session, ctx, demande, DemandeStatus.ANNULEE, actor.account_id, "cancelled")
    demande.closed_at = ctx.clock.now()
    session.commit()
    return demande


def answer(
    session: Session,
    ctx: EngineContext,
    actor: FamilyActor,
    demande_id: int,
    message: str,
    document_ids: Sequence[int],
) -> Demande:
    """The family answers the agent: documents are granted, the waiting task resumes its clock."""
    demande = family_demande(session, actor, demande_id)
    if demande.status is not DemandeStatus.EN_ATTENTE_FAMILLE:
        raise InvalidTransition(f"demande {demande_id} is not waiting on the family")
    ref = DemandeRef(demande.id, actor.foyer_id, is_open=True)
    documents = _chosen_documents(session, actor.foyer_id, document_ids)
    consent.grant_all(session, ctx.clock, actor.account_id, documents, ref)
    now = ctx.clock.now()
    waiting = session.scalars(
        select(Task).where(Task.demande_id == demande.id, Task.state == TaskState.WAITING_FAMILY)
    ).all()
    for task in waiting:
        task.state = TaskState.CLAIMED if task.assignee_id else TaskState.OPEN
        remaining = timedelta(seconds=task.paused_remaining_seconds or 0)
        task.due_at = ctx.calendar.add(now, remaining) if task.due_at else None
        task.paused_remaining_seconds = None
    set_status(
        session, ctx, demande, DemandeStatus.EN_INSTRUCTION, actor.account_id, "family_answered",
        message.strip()[:4000],
    )  # fmt: skip
    session.commit()
    return demande
