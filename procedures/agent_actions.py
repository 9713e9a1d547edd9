"""What an agent does from a demande's review page, each act guarded by what the page showed.

Every form of the page carries the row version of the task or the demande it acts on. An
act whose version no longer matches raises TaskConflict before anything is changed: another
agent acted first, and the page must be read again. The version is checked on the row the
act then updates, so the commit's `WHERE row_version = ...` closes the remaining gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from coffre import review
from coffre.catalogue import DOCUMENT_TYPES, document_type
from coffre.clock import local_today
from coffre.consent import AgentReader, check_access
from coffre.errors import AccessDenied, DocumentNotFound
from coffre.models import Document, Foyer
from coffre.review import RefusalReason
from coffre.vault import OpenedDocument, Vault
from notifications.templates import AGENT_MESSAGE_TEMPLATE
from procedures import tasks
from procedures.agent_views import INCOME_TYPES, agent_demande
from procedures.errors import DemandeNotFound, Incomplete, InvalidTransition, TaskConflict
from procedures.history import EngineContext, record_event
from procedures.models import OPEN_STATUSES, Demande, DemandeEvent, Task
from procedures.operations.notify import mail_family
from procedures.operations.quotient import TRANCHES
from procedures.progress import all_or_nothing, version_of
from procedures.tasks import AgentActor

MAX_NOTE = 4000
T = TypeVar("T")


@dataclass(frozen=True)
class QuotientFact:
    """The family quotient an agent read on an income document, and until when it holds."""

    quotient: int
    tranche: str
    valid_until: date


@dataclass(frozen=True)
class TaskAsShown:
    """A task of a demande, with the row version the agent's page showed."""

    demande_id: int
    task_id: int
    version: int


@dataclass(frozen=True)
class DemandeAsShown:
    """A demande, with the row version the agent's page showed."""

    demande_id: int
    version: int


def claim(session: Session, ctx: EngineContext, agent: AgentActor, shown: TaskAsShown) -> Task:
    """Take the demande's task, as it was when the page was shown."""
    _fresh_task(session, agent, shown)
    return tasks.claim(session, ctx, agent, shown.task_id)


def release(session: Session, ctx: EngineContext, agent: AgentActor, shown: TaskAsShown) -> Task:
    """Give the demande's task back to the service's queue."""
    _fresh_task(session, agent, shown)
    return tasks.release(session, ctx, agent, shown.task_id)


def complete(
    session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    shown: TaskAsShown,
    form: Mapping[str, Any],
    note: str = "",
) -> Demande:
    """Complete the demande's task with its form (the outcome the diagram branches on).

    The agent's note goes into the history as an internal line, never shown to the family.
    """
    _fresh_task(session, agent, shown)
    with all_or_nothing(session):
        if note.strip():
            demande = agent_demande(session, agent, shown.demande_id)
            record_event(
                session, ctx, demande, agent.account_id, "internal_note", note.strip()[:MAX_NOTE],
                task_id=shown.task_id, internal=True,
            )  # fmt: skip
        return tasks.complete(session, ctx, agent, shown.task_id, form)


def ask_family(
    session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    shown: TaskAsShown,
    message: str,
    document_types: Sequence[str],
) -> Demande:
    """Ask the family for information and documents; the demande waits, its clock paused."""
    codes = [code for code in document_types if code in DOCUMENT_TYPES]
    if not message.strip() and not codes:
        raise Incomplete(["Écrivez un message ou cochez au moins un justificatif à fournir."])
    _fresh_task(session, agent, shown)
    labels = ", ".join(document_type(code).label for code in codes)
    text = message.strip() + (f"\nJustificatifs à fournir : {labels}." if labels else "")
    return tasks.ask_family(session, ctx, agent, shown.task_id, text.strip(), codes)


def comment(
    session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    shown: DemandeAsShown,
    text: str,
    *,
    internal: bool,
) -> Demande:
    """An internal note for the services, or a message the family reads on its demande.

    A message to the family also queues an e-mail to each of its accounts telling it so.
    """
    if not text.strip():
        raise Incomplete(["Le message est vide."])
    demande = _fresh_demande(session, agent, shown)
    _touch(ctx, demande)
    kind = "internal_note" if internal else "agent_message"
    record_event(
        session, ctx, demande, agent.account_id, kind, text.strip()[:MAX_NOTE], internal=internal
    )

    def act() -> Demande:
        if not internal:  # inside `_committed`: its flush may find the demande changed
            _notify_message(session, ctx, demande)
        return demande

    return _committed(session, shown.demande_id, act)


def _notify_message(session: Session, ctx: EngineContext, demande: Demande) -> None:
    """Tell the family's accounts by e-mail that the service wrote (the text stays online)."""
    event_id = session.scalar(
        select(func.max(DemandeEvent.id)).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "agent_message"
        )
    )
    mail_family(
        session, ctx.clock, ctx.base_url, demande, version_of(session, demande).title,
        template=AGENT_MESSAGE_TEMPLATE, key=f"agent_message:{event_id}",
    )  # fmt: skip


def validate_document(
    session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    shown: DemandeAsShown,
    document_id: int,
    fact: QuotientFact | None = None,
) -> Document:
    """The document is valid; on an income document, the quotient read on it is recorded."""
    demande = _fresh_demande(session, agent, shown)
    reader = _reader(agent)
    document = _readable(session, reader, demande.id, document_id)
    with all_or_nothing(session):
        if fact is not None:
            _record_quotient(session, ctx, demande, agent, document, fact)
        _history(session, ctx, demande, agent, "document_validated", document, "")
        return _committed(
            session,
            demande.id,
            lambda: review.validate(session, ctx.clock, reader, document_id, demande.id),
        )


def refuse_document(
    session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    shown: DemandeAsShown,
    document_id: int,
    reason: RefusalReason,
    note: str = "",
) -> Document:
    """The document is refused with a reason from the list and an optional comment."""
    demande = _fresh_demande(session, agent, shown)
    reader = _reader(agent)
    document = _readable(session, reader, demande.id, document_id)
    with all_or_nothing(session):
        _history(session, ctx, demande, agent, "document_refused", document, note.strip())
        return _committed(
            session,
            demande.id,
            lambda: review.refuse(
                session, ctx.clock, reader, document_id, demande.id, reason, note
            ),
        )


def read_document(
    session: Session,
    vault: Vault,
    agent: AgentActor,
    demande_id: int,
    document_id: int,
    purpose: str = "view",
) -> OpenedDocument:
    """Open a granted document (the read is logged with its purpose); "not found" for any other."""
    agent_demande(session, agent, demande_id)
    try:
        return vault.open(session, _reader(agent), document_id, demande_id, purpose=purpose)
    except AccessDenied:
        raise DocumentNotFound(f"document {document_id} is not readable for {demande_id}") from None


def quotient_fact(
    quotient: str, tranche: str, valid_until: str, today: date
) -> QuotientFact | None:
    """The fact typed beside "Valide": None when left blank, Incomplete when half-typed."""
    if not (quotient.strip() or tranche.strip() or valid_until.strip()):
        return None
    problems = []
    value = quotient.strip()
    if not value.isdigit():
        problems.append("Indiquez le quotient familial lu sur le justificatif (un nombre entier).")
    if tranche not in TRANCHES:
        problems.append("Choisissez la tranche tarifaire.")
    try:
        until: date | None = date.fromisoformat(valid_until.strip())
    except ValueError:
        until = None
        problems.append("Indiquez jusqu'à quand le quotient est valable (JJ/MM/AAAA).")
    if until is not None and until < today:
        problems.append("La date de fin de validité du quotient est déjà passée.")
    if problems:
        raise Incomplete(problems)
    assert until is not None
    return QuotientFact(int(value), tranche, until)


def _fresh_task(session: Session, agent: AgentActor, shown: TaskAsShown) -> Task:
    agent_demande(session, agent, shown.demande_id)
    task = tasks.agent_task(session, agent, shown.task_id)
    if task.demande_id != shown.demande_id:
        raise DemandeNotFound(f"task {task.id} is not a task of demande {shown.demande_id}")
    if task.row_version != shown.version:
        raise TaskConflict(f"task {task.id} changed since version {shown.version}")
    return task


def _fresh_demande(session: Session, agent: AgentActor, shown: DemandeAsShown) -> Demande:
    demande = agent_demande(session, agent, shown.demande_id)
    if demande.row_version != shown.version:
        raise TaskConflict(f"demande {demande.id} changed since version {shown.version}")
    if demande.status not in OPEN_STATUSES:
        raise InvalidTransition(f"demande {demande.id} is closed")
    return demande


def _readable(session: Session, reader: AgentReader, demande_id: int, document_id: int) -> Document:
    try:
        return check_access(session, reader, document_id, demande_id).document
    except AccessDenied:
        raise DocumentNotFound(f"document {document_id} is not readable for {demande_id}") from None


def _history(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    agent: AgentActor,
    kind: str,
    document: Document,
    note: str,
) -> None:
    _touch(ctx, demande)
    label = document_type(document.type_code).label
    text = f"{label} : {note}" if note else label
    record_event(session, ctx, demande, agent.account_id, kind, text[:MAX_NOTE], internal=True)


def _record_quotient(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    agent: AgentActor,
    document: Document,
    fact: QuotientFact,
) -> None:
    if document.type_code not in INCOME_TYPES:
        raise Incomplete(["Ce justificatif ne porte pas de quotient familial."])
    if fact.valid_until < local_today(ctx.clock):
        raise Incomplete(["La date de fin de validité du quotient est déjà passée."])
    foyer = session.get(Foyer, demande.foyer_id)
    assert foyer is not None
    foyer.quotient_familial, foyer.tranche_qf = fact.quotient, fact.tranche
    foyer.qf_valid_until, foyer.qf_set_at = fact.valid_until, ctx.clock.now()
    record_event(
        session, ctx, demande, agent.account_id, "quotient_enregistre",
        f"Quotient familial {fact.quotient}, tranche {fact.tranche}, "
        f"valable jusqu'au {fact.valid_until.strftime('%d/%m/%Y')}.",
    )  # fmt: skip


def _touch(ctx: EngineContext, demande: Demande) -> None:
    """Update the demande's row even if nothing else changes on it, so its version moves on.

    The UPDATE carries `WHERE row_version = <as read>`: a concurrent change makes it fail.
    """
    demande.updated_at = ctx.clock.now()
    flag_modified(demande, "updated_at")  # an unchanged value (a frozen clock) still writes


def _committed(session: Session, demande_id: int, act: Callable[[], T]) -> T:
    """Run the act and commit; a row changed meanwhile by someone else becomes TaskConflict."""
    try:
        result = act()
        session.commit()
    except StaleDataError:
        session.rollback()
        raise TaskConflict(f"demande {demande_id} was changed by someone else meanwhile") from None
    return result


def _reader(agent: AgentActor) -> AgentReader:
    return AgentReader(agent.account_id, agent.service_ids)
