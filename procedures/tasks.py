"""Working a task: claim, release, complete with the task's form, ask the family.

Each task row carries a version counter: of two agents claiming or completing the same
task at once, one wins and the other gets TaskConflict; nothing is applied twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from accounts import agents
from accounts.models import Account, Role
from coffre.catalogue import document_type
from coffre.models import Foyer
from notifications import outbox
from procedures.bpmn import engine
from procedures.catalogue import definition_of
from procedures.deadlines.worked_time import store_worked_time
from procedures.demandes import FamilyActor
from procedures.errors import (
    DemandeNotFound,
    Incomplete,
    NotByHand,
    TaskConflict,
)
from procedures.forms import clean_form
from procedures.history import EngineContext, record_event
from procedures.models import (
    Demande,
    DemandeEvent,
    DemandeStatus,
    ProcedureVersion,
    Task,
    TaskState,
)
from procedures.progress import all_or_nothing, set_status, step, version_of

ACTIVE = (TaskState.OPEN, TaskState.CLAIMED)

_LOG = logging.getLogger(__name__)
# A diagram whose timer fails (a broken state, an expression over budget) is tried again then.
TIMER_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class AgentActor:
    account_id: int
    service_ids: frozenset[int]


def agent_task(session: Session, agent: AgentActor, task_id: int) -> Task:
    """The task if one of the agent's services holds it; "not found" otherwise."""
    task = session.get(Task, task_id)
    if task is None or task.service_id not in agent.service_ids:
        raise DemandeNotFound(f"task {task_id} is not in agent {agent.account_id}'s services")
    return task


def claim(session: Session, ctx: EngineContext, agent: AgentActor, task_id: int) -> Task:
    """Take an open task; TaskConflict if someone else has it."""
    task = agent_task(session, agent, task_id)
    # Read before the change: a read after it would flush the task's UPDATE early, and a
    # colleague's claim committed meanwhile would surface there, not as a TaskConflict.
    demande = _demande(session, task)
    check_by_hand(session, task)
    if task.state is not TaskState.OPEN:
        raise TaskConflict(f"task {task_id} is {task.state.value}")
    task.state, task.assignee_id = TaskState.CLAIMED, agent.account_id
    _start_instruction(session, ctx, demande, agent.account_id)
    _commit(session, task_id)
    return task


def release(session: Session, ctx: EngineContext, agent: AgentActor, task_id: int) -> Task:
    """Give a claimed task back to the service's queue."""
    task = agent_task(session, agent, task_id)
    if task.state is not TaskState.CLAIMED or task.assignee_id != agent.account_id:
        raise TaskConflict(f"task {task_id} is not claimed by agent {agent.account_id}")
    task.state, task.assignee_id = TaskState.OPEN, None
    _commit(session, task_id)
    return task


def release_all_of(session: Session, account_id: int) -> int:
    """Give back to their services every task an agent holds (it was deactivated): a taken
    task is open again, one waiting on the family comes back open when the family answers.

    Returns how many; the caller commits.
    """
    held = session.scalars(
        select(Task).where(
            Task.assignee_id == account_id,
            Task.state.in_((TaskState.CLAIMED, TaskState.WAITING_FAMILY)),
        )
    ).all()
    for task in held:
        if task.state is TaskState.CLAIMED:
            task.state = TaskState.OPEN
        task.assignee_id = None
    return len(held)


@agents.on_deactivation
def _release_on_deactivation(session: Session, account_id: int) -> Mapping[str, Any]:
    return {"released_tasks": release_all_of(session, account_id)}


def complete(
    session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    task_id: int,
    form: Mapping[str, Any],
    comment: str = "",
) -> Demande:
    """Complete the agent's task with its form; the diagram moves on."""
    task = agent_task(session, agent, task_id)
    _check_active(task, agent.account_id)
    return _complete(session, ctx, task, agent.account_id, form, comment)


def complete_for_family(
    session: Session, ctx: EngineContext, actor: FamilyActor, task_id: int, form: Mapping[str, Any]
) -> Demande:
    """The family completes a task of its own lane (e.g. accepting an offered place)."""
    task = session.get(Task, task_id)
    demande = _demande(session, task) if task else None
    if task is None or demande is None or demande.foyer_id != actor.foyer_id or not task.for_family:
        raise DemandeNotFound(f"task {task_id} is not a task of foyer {actor.foyer_id}")
    _check_active(task, None)
    return _complete(session, ctx, task, actor.account_id, form, "")


def check_by_hand(session: Session, task: Task) -> None:
    """NotByHand when the step is completed by a mechanism of its own (`completed_by`, e.g.
    the draw of a course's places): claimed, completed or put on hold by hand, it would be
    bypassed. That mechanism completes the step through the engine, not through here."""
    version = session.get_one(ProcedureVersion, task.procedure_version_id)
    completer = definition_of(version).task(task.spec_id).completed_by
    if completer is not None:
        raise NotByHand(task.id, completer)


def _check_active(task: Task, account_id: int | None) -> None:
    if task.state not in ACTIVE:
        raise TaskConflict(f"task {task.id} is {task.state.value}")
    if (
        task.state is TaskState.CLAIMED
        and account_id is not None
        and task.assignee_id != account_id
    ):
        raise TaskConflict(f"task {task.id} is claimed by someone else")


def _complete(
    session: Session,
    ctx: EngineContext,
    task: Task,
    actor_id: int | None,
    form: Mapping[str, Any],
    comment: str,
) -> Demande:
    demande = _demande(session, task)
    check_by_hand(session, task)
    definition = definition_of(version_of(session, demande))
    foyer = session.get(Foyer, demande.foyer_id)
    assert foyer is not None
    values, problems = clean_form(definition.task(task.spec_id).form, form, foyer.members)
    if problems:
        raise Incomplete(problems)
    with all_or_nothing(session):
        now = ctx.clock.now()
        store_worked_time(session, ctx.calendar, task, now)  # reads first: one UPDATE of the task
        task.state, task.completed_at, task.completed_by = TaskState.DONE, now, actor_id
        _start_instruction(session, ctx, demande, actor_id)
        record_event(
            session, ctx, demande, actor_id, "task_completed", comment.strip(), task_id=task.id
        )
        step(session, ctx, demande, _completer(task.spiff_task_id, values))
        _commit(session, task.id)
    return demande


def ask_family(
    session: Session,
    ctx: EngineContext,
    agent: AgentActor,
    task_id: int,
    message: str,
    document_types: list[str],
) -> Demande:
    """Put the demande on hold for the family; the task's deadline clock is paused."""
    task = agent_task(session, agent, task_id)
    _check_active(task, agent.account_id)
    demande = _demande(session, task)
    check_by_hand(session, task)
    now = ctx.clock.now()
    if task.due_at is not None:
        left = ctx.calendar.working_time_between(now, task.due_at)
        task.paused_remaining_seconds = int(left.total_seconds())
    task.state, task.assignee_id = TaskState.WAITING_FAMILY, task.assignee_id or agent.account_id
    set_status(
        session, ctx, demande, DemandeStatus.EN_ATTENTE_FAMILLE, agent.account_id, "asked_family",
        message.strip()[:4000], task.id,
    )  # fmt: skip
    _notify_document_request(session, ctx, demande, task, document_types)
    _commit(session, task_id)
    return demande


def _notify_document_request(
    session: Session, ctx: EngineContext, demande: Demande, task: Task, document_types: list[str]
) -> None:
    labels = ", ".join(document_type(code).label for code in document_types) or "voir le message"
    version = version_of(session, demande)
    accounts = session.scalars(
        select(Account).where(Account.foyer_id == demande.foyer_id, Account.role == Role.FAMILLE)
    )
    # Each request to the family is its own event: count them to key its e-mails.
    asked = session.scalar(
        select(func.count()).where(
            DemandeEvent.demande_id == demande.id, DemandeEvent.kind == "asked_family"
        )
    )
    for account in accounts:
        outbox.enqueue(
            session,
            ctx.clock,
            key=f"ask:{demande.id}:{asked}:{account.id}",
            recipient=account.email,
            template="document_demande",
            context={
                "reference": demande.number or str(demande.id),
                "demarche": version.title,
                "type_document": labels,
                "lien": f"{ctx.base_url}/famille/demandes/{demande.id}",
            },
        )


def fire_timeouts(session: Session, ctx: EngineContext, limit: int = 500) -> int:
    """Complete family tasks past their time limit with the diagram's timeout data.

    One task per transaction, locked with SKIP LOCKED and read fresh: a commit releases
    only the lock it took, so two workers never fire the same timer or trip on each other.
    """
    fired = 0
    while fired < limit:
        task = session.scalar(
            select(Task)
            .where(
                Task.for_family.is_(True), Task.state.in_(ACTIVE), Task.due_at <= ctx.clock.now()
            )
            .order_by(Task.due_at, Task.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if task is None:
            session.rollback()  # end the read transaction
            return fired
        with all_or_nothing(session):
            _fire_timeout(session, ctx, task)
        fired += 1
    return fired


def fire_timers(session: Session, ctx: EngineContext, limit: int = 500) -> int:
    """Wake the workflows whose diagram timer (boundary, intermediate or event-based
    gateway) has fallen due: the timer fires and the engine runs on. One demande per
    transaction, locked with SKIP LOCKED, as `fire_timeouts`."""
    woken = 0
    while woken < limit:
        demande = session.scalar(
            select(Demande)
            .where(Demande.wakes_at <= ctx.clock.now(), Demande.closed_at.is_(None))
            .order_by(Demande.wakes_at, Demande.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if demande is None:
            session.rollback()
            return woken
        demande_id = demande.id
        try:
            with all_or_nothing(session):
                demande.wakes_at = None  # the step sets the next one
                step(session, ctx, demande, engine.wake)
                session.commit()
        except Exception as exc:  # one broken demande must not hold up the others
            _LOG.error("timer of demande %s failed (%s): retried later", demande_id,
                       type(exc).__name__)  # fmt: skip
            session.execute(
                update(Demande)
                .where(Demande.id == demande_id)
                .values(wakes_at=ctx.clock.now() + TIMER_RETRY)
            )
            session.commit()
        woken += 1
    return woken


def _fire_timeout(session: Session, ctx: EngineContext, task: Task) -> None:
    demande = session.get(Demande, task.demande_id, populate_existing=True)
    assert demande is not None
    settings = definition_of(version_of(session, demande)).task(task.spec_id)
    data = json.loads(json.dumps(dict(settings.timeout_data)))
    now = ctx.clock.now()
    store_worked_time(session, ctx.calendar, task, now)  # reads first: one UPDATE of the task
    task.state, task.completed_at = TaskState.DONE, now
    record_event(session, ctx, demande, None, "timeout", task_id=task.id)
    step(session, ctx, demande, _completer(task.spiff_task_id, data))
    _commit(session, task.id)


def _completer(spiff_task_id: str, data: dict[str, Any]) -> Callable[[BpmnWorkflow], None]:
    def run(workflow: BpmnWorkflow) -> None:
        engine.complete(workflow, spiff_task_id, data)

    return run


def _start_instruction(
    session: Session, ctx: EngineContext, demande: Demande, actor_id: int | None
) -> None:
    """The first time someone works on a submitted demande, it is "en instruction"."""
    if demande.status is DemandeStatus.DEPOSEE:
        set_status(session, ctx, demande, DemandeStatus.EN_INSTRUCTION, actor_id, "claimed")


def _demande(session: Session, task: Task) -> Demande:
    demande = session.get(Demande, task.demande_id)
    assert demande is not None
    return demande


def _commit(session: Session, task_id: int) -> None:
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise TaskConflict(f"task {task_id} was changed by someone else meanwhile") from None
