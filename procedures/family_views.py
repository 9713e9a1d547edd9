"""Read-only views of procedures and demandes for the family's pages (no Flask here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre import consent
from coffre.catalogue import document_type
from coffre.models import Document, DocumentState, Grant
from procedures.catalogue import definition_of
from procedures.deadlines.expected import Expected, expected
from procedures.definitions import FAMILY_LANE, Condition, Definition, RequiredDocument
from procedures.models import (
    Demande,
    DemandeEvent,
    DemandeStatus,
    ProcedureVersion,
    Task,
    TaskState,
)
from procedures.progress import LIVE_TASKS, version_of
from procedures.working_hours import WorkingCalendar

TOWN_DOCUMENT = "attestation_mairie"


@dataclass(frozen=True)
class Requirement:
    """One required document and the foyer's documents that meet it today."""

    index: int
    label: str
    required: RequiredDocument
    documents: tuple[Document, ...]

    @property
    def held(self) -> bool:
        return len(self.documents) >= self.required.count


@dataclass(frozen=True)
class ProcedureCard:
    version: ProcedureVersion
    definition: Definition
    requirements: tuple[Requirement, ...]


@dataclass(frozen=True)
class TaskLine:
    task: Task
    service_name: str | None  # None: the family's own task


def open_procedures(session: Session, foyer_id: int, today: date) -> list[ProcedureCard]:
    """Current procedures open today, with what they require and what the vault holds."""
    versions = session.scalars(
        select(ProcedureVersion)
        .where(ProcedureVersion.is_current.is_(True))
        .order_by(ProcedureVersion.title)
    )
    cards = []
    for version in versions:
        definition = definition_of(version)
        if not definition.open_on(today):
            continue  # before its opening date, or outside its window
        requirements = requirements_of(session, foyer_id, definition, today)
        cards.append(ProcedureCard(version, definition, tuple(requirements)))
    return cards


def requirements_of(
    session: Session,
    foyer_id: int,
    definition: Definition,
    today: date,
    child_id: int | None = None,
    demande_id: int | None = None,
    answers: Mapping[str, Any] | None = None,
) -> list[Requirement]:
    """Each required document with the foyer's current, valid documents of its types that
    may serve the demande (a single-use one already serving another is left out).

    Given the family's `answers`, only the documents they call for; without them (the
    catalogue, before the form is filled), every one, a conditional one saying when."""
    documents = session.scalars(
        select(Document)
        .where(Document.foyer_id == foyer_id, Document.superseded_at.is_(None))
        .order_by(Document.issued_on.desc(), Document.id.desc())
    ).all()
    used = consent.used_elsewhere(session, documents, demande_id)
    documents = [document for document in documents if document.id not in used]
    lines = []
    for index, required in enumerate(definition.documents):
        if answers is not None and not required.applies(answers):
            continue
        usable = tuple(d for d in documents if _usable(d, required, today, child_id))
        label = requirement_label(required)
        if answers is None and required.when is not None:
            label += condition_label(definition, required.when)
        lines.append(Requirement(index, label, required, usable))
    return lines


def requirement_label(required: RequiredDocument) -> str:
    """The requirement in French, as the family reads it."""
    label = " ou ".join(document_type(code).label for code in required.types)
    if required.max_age_months:
        label += f" de moins de {required.max_age_months} mois"
    if required.member == "child":
        label += " de l'enfant concerné"
    return label


def condition_label(definition: Definition, when: Condition) -> str:
    """When a conditional document is asked, in French: « (seulement si … : …) »."""
    field = next((f for f in definition.fields if f.name == when.field), None)
    if field is None:
        return ""
    chosen = " ou ".join(field.choice_labels.get(value, value) for value in when.values)
    return f" (seulement si « {field.label} » : {chosen})"


def _usable(document: Document, required: RequiredDocument, today: date, child: int | None) -> bool:
    if document.type_code not in required.types:
        return False
    if document.state in (DocumentState.REFUSE, DocumentState.EXPIRE):
        return False
    if document.valid_until is not None and document.valid_until < today:
        return False
    return not (required.member == "child" and child is not None and document.member_id != child)


def first_service(session: Session, definition: Definition) -> Service | None:
    """The service of the procedure's first lane handled by the town."""
    for code in definition.lanes.values():
        if code != FAMILY_LANE:
            service = session.scalar(select(Service).where(Service.code == code))
            if service is not None:
                return service
    return None


def first_service_name(session: Session, definition: Definition) -> str:
    """The name of that service (the procedure's title when none is set up)."""
    service = first_service(session, definition)
    return service.name if service is not None and service.name else definition.title


def refused_by_rules(session: Session, demande: Demande) -> bool:
    """Refused with no agent's step on the way (a decision table decided): the family is told
    the decision was automatic and that it may ask for the rules and a review (CRPA L311-3-1)."""
    if demande.status is not DemandeStatus.REFUSEE:
        return False
    agent_step = select(Task.id).where(Task.demande_id == demande.id, Task.for_family.is_(False))
    return session.scalar(agent_step.limit(1)) is None


def demandes_of(session: Session, foyer_id: int) -> list[tuple[Demande, ProcedureVersion]]:
    """The foyer's demandes, newest first, with the version each runs on."""
    rows = session.execute(
        select(Demande, ProcedureVersion)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(Demande.foyer_id == foyer_id)
        .order_by(Demande.created_at.desc(), Demande.id.desc())
    ).all()
    return [(row[0], row[1]) for row in rows]


def public_history(session: Session, demande_id: int) -> list[DemandeEvent]:
    """The demande's history without the agents' internal notes, oldest first."""
    return list(
        session.scalars(
            select(DemandeEvent)
            .where(DemandeEvent.demande_id == demande_id, DemandeEvent.internal.is_(False))
            .order_by(DemandeEvent.at, DemandeEvent.id)
        )
    )


# The history's lines after which the diagram moves on, opening the steps that follow.
STEPPING = frozenset({"submitted", "task_completed", "timeout"})
# Lines about a step of the demande, which they name (`DemandeEvent.task_id`).
ABOUT_A_STEP = frozenset({"task_completed", "timeout", "asked_family"})
# Lines of the family's own doing.
BY_FAMILY = frozenset({"submitted", "cancelled", "family_answered"})


@dataclass(frozen=True)
class NextStep:
    """A step a line of the history opened: its name, who holds it, when it is expected."""

    title: str
    service_name: str | None  # None: the family's own step
    expected: Expected | None  # None once passed, or for a step without a deadline
    live: bool  # still to be done


@dataclass(frozen=True)
class TimelineLine:
    """One line of the family's history: what happened, to which step, by whom (the
    service, never the agent), and what happens next."""

    event: DemandeEvent
    step: str | None  # the step's name in the diagram
    service_name: str | None  # the service that acted or asked
    by_family: bool
    next_steps: tuple[NextStep, ...]


def family_timeline(
    session: Session, demande: Demande, calendar: WorkingCalendar
) -> list[TimelineLine]:
    """The demande's public history, each line naming its step, the service behind it and,
    after a step passed, the steps it opened with their expected date.

    The steps a line opened are the tasks created from its instant until the next line
    that moves the diagram on (a step is opened in the same transaction as the line).
    """
    events = public_history(session, demande.id)
    tasks = list(
        session.scalars(select(Task).where(Task.demande_id == demande.id).order_by(Task.id))
    )
    services = _service_names(session, {task.service_id for task in tasks})
    definition = definition_of(version_of(session, demande))
    stepping = [event for event in events if event.kind in STEPPING]
    ends = {id(event): after.at for event, after in pairwise(stepping)}
    by_id = {task.id: task for task in tasks}
    lines = []
    for event in events:
        task = by_id.get(event.task_id) if event.kind in ABOUT_A_STEP and event.task_id else None
        opened: tuple[NextStep, ...] = ()
        if event.kind in STEPPING:
            end = ends.get(id(event))
            opened = tuple(
                _next_step(other, services, definition, calendar)
                for other in tasks
                if other.id != event.task_id
                and other.created_at >= event.at
                and (end is None or other.created_at < end)
            )
        if task is not None:
            by_family = task.for_family
            service = None if task.for_family else services.get(task.service_id or 0)
        else:
            by_family = event.kind in BY_FAMILY
            service = None if by_family else _service_at(tasks, services, event)
        step = task.title if task is not None else None
        lines.append(TimelineLine(event, step, service, by_family, opened))
    return lines


def _next_step(
    task: Task, services: dict[int, str], definition: Definition, calendar: WorkingCalendar
) -> NextStep:
    live = task.state in LIVE_TASKS
    hours = definition.task(task.spec_id).sla_hours
    allowed = timedelta(hours=hours) if hours else None
    due = expected(task, calendar, for_family=task.for_family, allowed=allowed) if live else None
    service = None if task.for_family else services.get(task.service_id or 0)
    return NextStep(task.title, service, due, live)


def _service_at(tasks: list[Task], services: dict[int, str], event: DemandeEvent) -> str | None:
    """The service that held the demande at the line's instant (a service's step open then)."""
    held = [
        task
        for task in tasks
        if not task.for_family
        and task.service_id is not None
        and task.created_at <= event.at
        and (task.completed_at is None or task.completed_at >= event.at)
    ]
    return services.get(held[-1].service_id or 0) if held else None


def _service_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {service_id for service_id in ids if service_id is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Service.id, Service.name).where(Service.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


def live_tasks(session: Session, demande_id: int) -> list[TaskLine]:
    """The steps under way and the service that holds each (never the agent)."""
    tasks = session.scalars(
        select(Task).where(Task.demande_id == demande_id, Task.state.in_(LIVE_TASKS))
    ).all()
    lines = []
    for task in tasks:
        name = None
        if not task.for_family and task.service_id is not None:
            name = session.scalar(select(Service.name).where(Service.id == task.service_id))
        lines.append(TaskLine(task, name))
    return lines


def family_task(session: Session, demande_id: int) -> Task | None:
    """The family's own open task of the demande, if any."""
    return session.scalar(
        select(Task).where(
            Task.demande_id == demande_id,
            Task.for_family.is_(True),
            Task.state.in_([TaskState.OPEN, TaskState.CLAIMED]),
        )
    )


def shared_documents(session: Session, demande_id: int) -> list[Document]:
    """The documents the family currently shares with the demande."""
    return list(
        session.scalars(
            select(Document)
            .join(Grant, Grant.document_id == Document.id)
            .where(Grant.demande_id == demande_id, Grant.revoked_at.is_(None))
            .order_by(Document.type_code, Document.id)
        )
    )


def town_documents(session: Session, foyer_id: int, number: str | None) -> list[Document]:
    """The town's attestations in the vault issued for this demande (named after its number)."""
    if not number:
        return []
    return list(
        session.scalars(
            select(Document).where(
                Document.foyer_id == foyer_id,
                Document.type_code == TOWN_DOCUMENT,
                Document.superseded_at.is_(None),
                Document.original_name.contains(number),
            )
        )
    )


def current_documents(session: Session, foyer_id: int) -> list[Document]:
    """The foyer's current documents."""
    return list(
        session.scalars(
            select(Document)
            .where(Document.foyer_id == foyer_id, Document.superseded_at.is_(None))
            .order_by(Document.type_code, Document.id)
        )
    )


def documents_to_offer(session: Session, foyer_id: int, demande_id: int) -> list[Document]:
    """The foyer's current documents the family may share with the demande (answering an
    agent): a single-use one already serving another demande is not offered."""
    documents = current_documents(session, foyer_id)
    used = consent.used_elsewhere(session, documents, demande_id)
    return [document for document in documents if document.id not in used]
