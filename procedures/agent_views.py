"""Read-only views of a demande for the agents' review page (no Flask here).

An agent sees a demande only while one of its services handles (or handled) one of its
tasks, the rule the vault applies to the documents; anyone else is told it does not
exist. The documents listed are exactly those the vault lets the agent read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre import consent
from coffre.catalogue import DOCUMENT_TYPES, document_type
from coffre.clock import PARIS
from coffre.consent import AgentReader
from coffre.models import DemandeAccess, Document, DocumentState, Foyer, FoyerMember
from procedures.catalogue import definition_of
from procedures.deadlines.escalation import SlaState, sla_state
from procedures.definitions import Definition, FormField, RequiredDocument
from procedures.errors import DemandeNotFound
from procedures.forms import choice_label, number_text
from procedures.models import (
    OPEN_STATUSES,
    Demande,
    DemandeEvent,
    ProcedureVersion,
    Task,
    TaskState,
)
from procedures.progress import LIVE_TASKS, version_of
from procedures.tasks import AgentActor
from procedures.vault.withdrawal import WITHDRAWN
from procedures.working_hours import WorkingCalendar

# Documents from which an agent may record the family quotient it read on them.
INCOME_TYPES = frozenset({"avis_imposition", "attestation_caf"})
# History lines that carry a message between the service and the family.
EXCHANGES = frozenset({"asked_family", "family_answered", "agent_message"})


@dataclass(frozen=True)
class FieldLine:
    """One answer of the family's form: its label, its typed value, the field's type."""

    label: str
    value: Any
    type: str


@dataclass(frozen=True)
class TaskLine:
    """A live step of the demande: who holds it, by when, and whether the agent may work it."""

    task: Task
    service_name: str | None  # None: the family's own step
    assignee_name: str | None
    sla: SlaState | None
    workable: bool  # in one of the agent's services
    mine: bool  # claimed by the agent
    form: tuple[FormField, ...]
    completed_by: str | None = None  # what completes it instead of agents (e.g. "tirage")


@dataclass(frozen=True)
class HistoryLine:
    event: DemandeEvent
    actor_name: str | None


@dataclass(frozen=True)
class DocumentLine:
    document: Document
    type_label: str
    member_name: str | None
    income: bool  # the quotient familial may be recorded when validating it


@dataclass(frozen=True)
class AgentDemandeView:
    """Everything the review page shows of one demande."""

    demande: Demande
    version: ProcedureVersion
    foyer: Foyer
    fields: tuple[FieldLine, ...]
    tasks: tuple[TaskLine, ...]
    history: tuple[HistoryLine, ...]
    exchanges: tuple[HistoryLine, ...]
    documents: tuple[DocumentLine, ...]
    requested_types: tuple[tuple[str, str], ...]  # (code, label) to ask the family for
    missing_types: frozenset[str] = frozenset()  # required, and no usable granted document
    # Documents the family took back while the demande was open (its type in the comment).
    withdrawals: tuple[HistoryLine, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.demande.status in OPEN_STATUSES

    @property
    def current(self) -> TaskLine | None:
        """The step the agent can work now, if any."""
        return next((line for line in self.tasks if line.workable), None)


def agent_demande(session: Session, agent: AgentActor, demande_id: int) -> Demande:
    """The demande if one of the agent's services handles it; "not found" otherwise."""
    handled = None
    if agent.service_ids:
        handled = session.scalar(
            select(DemandeAccess.demande_id).where(
                DemandeAccess.demande_id == demande_id,
                DemandeAccess.service_id.in_(agent.service_ids),
            )
        )
    demande = session.get(Demande, demande_id) if handled is not None else None
    if demande is None:
        raise DemandeNotFound(f"demande {demande_id} is not handled by agent {agent.account_id}")
    return demande


def demande_view(
    session: Session,
    agent: AgentActor,
    demande_id: int,
    now: datetime,
    calendar: WorkingCalendar | None = None,
) -> AgentDemandeView:
    """The review page's content; raises DemandeNotFound outside the agent's services."""
    demande = agent_demande(session, agent, demande_id)
    version = version_of(session, demande)
    foyer = session.get(Foyer, demande.foyer_id)
    assert foyer is not None  # a foreign key guarantees it
    history = _history(session, demande.id)
    documents = tuple(document_lines(session, agent, demande.id, foyer.members))
    granted = [line.document for line in documents]
    return AgentDemandeView(
        demande=demande,
        version=version,
        foyer=foyer,
        fields=form_lines(demande, version, foyer.members),
        tasks=tuple(_task_lines(session, agent, demande, version, now, calendar)),
        history=tuple(history),
        exchanges=tuple(line for line in history if line.event.kind in EXCHANGES),
        documents=documents,
        requested_types=tuple((code, t.label) for code, t in DOCUMENT_TYPES.items() if t.reusable),
        missing_types=missing_types(demande, version, granted, now.astimezone(PARIS).date()),
        withdrawals=tuple(line for line in history if line.event.kind == WITHDRAWN),
    )


def missing_types(
    demande: Demande, version: ProcedureVersion, granted: Iterable[Document], today: date
) -> frozenset[str]:
    """The types the procedure requires that no granted, still usable document provides.

    A document refused or expired does not count; one not yet checked does, since the
    family already gave it. An alternative requirement (`any_of`) is named by its first type.
    """
    definition = definition_of(version)
    answers = json.loads(demande.form_data or "{}")
    child = _child_of(definition, answers)
    documents = list(granted)
    return frozenset(
        required.type
        for required in definition.documents
        if required.applies(answers)
        and not any(_provides(d, required, today, child) for d in documents)
    )


def _child_of(definition: Definition, data: dict[str, Any]) -> int | None:
    for field in definition.fields:
        value = str(data.get(field.name) or "")
        if field.type == "child" and value.isdigit():
            return int(value)
    return None


def _provides(
    document: Document, required: RequiredDocument, today: date, child: int | None
) -> bool:
    if document.type_code not in required.types:
        return False
    if document.state in (DocumentState.REFUSE, DocumentState.EXPIRE):
        return False
    if document.valid_until is not None and document.valid_until < today:
        return False
    return required.member != "child" or child is None or document.member_id == child


def _children_names(value: Any, names: Mapping[int, str]) -> list[str]:
    """Several children, as submitted (their ids and first names) or as a draft keeps them."""
    if isinstance(value, list):
        return [str(item.get("prenom", "")) for item in value if isinstance(item, dict)]
    return [names.get(int(part), "") for part in str(value).split(",") if part.isdigit()]


def form_lines(
    demande: Demande, version: ProcedureVersion, members: Iterable[FoyerMember]
) -> tuple[FieldLine, ...]:
    """The family's answers in the order the procedure declares its fields."""
    data = json.loads(demande.form_data or "{}")
    names = _member_names(members)
    lines = []
    for field in definition_of(version).fields:
        if field.when is not None and not field.when.holds(data):
            continue  # not asked for these answers (a move's address, for a new number)
        value = data.get(field.name)
        if value in (None, ""):
            value = None
        elif field.type == "child":
            value = names.get(int(value), "")
        elif field.type == "children":
            value = ", ".join(_children_names(value, names))
        elif field.type == "date":
            value = date.fromisoformat(str(value))
        elif field.type == "choice":
            value = choice_label(field, value)
        elif field.type == "number":
            value = number_text(value)
        lines.append(FieldLine(field.label, value, field.type))
    return tuple(lines)


def document_lines(
    session: Session, agent: AgentActor, demande_id: int, members: Iterable[FoyerMember]
) -> list[DocumentLine]:
    """The documents granted to the demande that the agent may read, and nothing else."""
    reader = AgentReader(agent.account_id, agent.service_ids)
    names = _member_names(members)
    return [
        DocumentLine(
            document=document,
            type_label=document_type(document.type_code).label,
            member_name=names.get(document.member_id) if document.member_id else None,
            income=document.type_code in INCOME_TYPES,
        )
        for document in consent.granted_documents(session, reader, demande_id)
    ]


def granted_document(
    session: Session, agent: AgentActor, demande_id: int, document_id: int
) -> DocumentLine:
    """One document of the demande the agent may read; DemandeNotFound for any other."""
    demande = agent_demande(session, agent, demande_id)
    foyer = session.get(Foyer, demande.foyer_id)
    assert foyer is not None
    for line in document_lines(session, agent, demande_id, foyer.members):
        if line.document.id == document_id:
            return line
    raise DemandeNotFound(f"document {document_id} is not granted to demande {demande_id}")


def _task_lines(
    session: Session,
    agent: AgentActor,
    demande: Demande,
    version: ProcedureVersion,
    now: datetime,
    calendar: WorkingCalendar | None,
) -> list[TaskLine]:
    definition = definition_of(version)
    tasks = session.scalars(
        select(Task)
        .where(Task.demande_id == demande.id, Task.state.in_(LIVE_TASKS))
        .order_by(Task.created_at, Task.id)
    ).all()
    names = _account_names(session, [t.assignee_id for t in tasks])
    services = _service_names(session, [t.service_id for t in tasks])
    return [
        TaskLine(
            task=task,
            service_name=services.get(task.service_id) if task.service_id else None,
            assignee_name=names.get(task.assignee_id) if task.assignee_id else None,
            sla=sla_state(task, now, calendar or WorkingCalendar()),
            workable=task.service_id in agent.service_ids and not task.for_family,
            mine=task.state is TaskState.CLAIMED and task.assignee_id == agent.account_id,
            form=definition.task(task.spec_id).form,
            completed_by=definition.task(task.spec_id).completed_by,
        )
        for task in tasks
    ]


def _history(session: Session, demande_id: int) -> list[HistoryLine]:
    """Every line of the demande's history, internal notes included, oldest first."""
    events = session.scalars(
        select(DemandeEvent)
        .where(DemandeEvent.demande_id == demande_id)
        .order_by(DemandeEvent.at, DemandeEvent.id)
    ).all()
    names = _account_names(session, [e.actor_id for e in events])
    return [HistoryLine(e, names.get(e.actor_id) if e.actor_id else None) for e in events]


def _account_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Account.id, Account.display_name).where(Account.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


def _service_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Service.id, Service.name).where(Service.id.in_(wanted)))
    return {row[0]: row[1] for row in rows}


def _member_names(members: Iterable[FoyerMember]) -> dict[int, str]:
    return {m.id: f"{m.first_name} {m.last_name}" for m in members}
