"""Moving a demande through its diagram: run a step, persist the state, sync the inbox.

After every step the workflow's state is saved on the demande (the version it runs on holds
the diagram, parsed once per process and never copied into the state), the ready human
tasks are mirrored into the `tasks` table, the services that now hold a task are given
access to the documents granted to the demande, and a finished diagram closes the demande
with the status its end event maps to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre import consent
from notifications.templates import PROCESS_MESSAGE_TEMPLATE
from procedures.bpmn import engine, timers
from procedures.catalogue import definition_of, diagram_of
from procedures.definitions import FAMILY_LANE, Definition
from procedures.history import EngineContext, record_event
from procedures.models import Demande, DemandeStatus, ProcedureVersion, Task, TaskState
from procedures.operations.context import OperationContext
from procedures.operations.notify import mail_family
from procedures.operations.registry import run_operation

LIVE_TASKS = (TaskState.OPEN, TaskState.CLAIMED, TaskState.WAITING_FAMILY)


@contextmanager
def all_or_nothing(session: Session) -> Iterator[None]:
    """Roll the session back if the block fails: no half-applied step is left behind."""
    try:
        yield
    except BaseException:
        session.rollback()
        raise


def version_of(session: Session, demande: Demande) -> ProcedureVersion:
    """The published version the demande runs on, read once per demande object."""
    assert demande in session
    return demande.version


def _script_engine(
    session: Session, ctx: EngineContext, demande: Demande, version: ProcedureVersion
) -> engine.OperationScriptEngine:
    def dispatch(name: str, params: Any, task: Any) -> Any:
        context = OperationContext(
            session, ctx.clock, demande, version.title, str(task.id), ctx.base_url,
            dict(task.data), ctx.vault,
        )  # fmt: skip
        return run_operation(name, context, params)

    return engine.OperationScriptEngine(
        dispatch, clock=ctx.clock.now, working_days=ctx.calendar.add_working_days
    )


def start_workflow(session: Session, ctx: EngineContext, demande: Demande) -> None:
    """Start the demande's diagram with its form data and run it to its first wait."""
    version = version_of(session, demande)
    script_engine = _script_engine(session, ctx, demande, version)
    data = json.loads(demande.form_data) | {"demande_id": demande.id}
    with engine.diagram_faults():
        workflow = engine.start(diagram_of(version), data, script_engine)
    _after_step(session, ctx, demande, version, workflow, started=True)


def step(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    action: Callable[[BpmnWorkflow], None],
) -> None:
    """Restore the demande's workflow on its version's diagram, apply one action, persist, sync."""
    version = version_of(session, demande)
    assert demande.workflow_state is not None
    script_engine = _script_engine(session, ctx, demande, version)
    workflow = engine.restore(demande.workflow_state, script_engine, diagram_of(version))
    with engine.diagram_faults():
        action(workflow)
    _after_step(session, ctx, demande, version, workflow)


def _after_step(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    version: ProcedureVersion,
    workflow: BpmnWorkflow,
    started: bool = False,
) -> None:
    sent = engine.messages_sent(workflow)  # taken out of the state before it is saved
    definition = definition_of(version)
    # The inbox first: its read of the live tasks would flush the demande, written twice then.
    sync_tasks(session, ctx, demande, definition, engine.ready_tasks(workflow), started=started)
    demande.workflow_state = engine.dump(workflow)
    demande.updated_at = ctx.clock.now()
    demande.wakes_at = timers.wakes_at(workflow)
    outgoing = diagram_of(version).outgoing_messages
    for message in sent:
        record_event(session, ctx, demande, None, "message", message)
        target = outgoing.get(message)
        if target is not None and definition.lanes.get(target.pool) == FAMILY_LANE:
            _tell_family(session, ctx, demande, version, message, target.label)
    end = engine.end_reached(workflow)
    if end is not None:
        status = DemandeStatus(definition.ends.get(end, DemandeStatus.CLASSEE.value))
        set_status(session, ctx, demande, status, None, "decision", _reason(workflow))
        demande.closed_at = ctx.clock.now()
        demande.wakes_at = None


def _reason(workflow: BpmnWorkflow) -> str:
    """The `motif` the diagram holds at its end (an agent's form, a decision table): the
    family reads it with the decision."""
    reason = engine.data_of(workflow).get("motif")
    return reason.strip() if isinstance(reason, str) else ""


def _tell_family(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    version: ProcedureVersion,
    message: str,
    label: str,
) -> None:
    """A message flow to the family's pool: each adult of the foyer is e-mailed a notice (what
    the message is about, from the diagram; never the demande's data) with the link."""
    sent_at = ctx.clock.now().isoformat()
    mail_family(
        session, ctx.clock, ctx.base_url, demande, version.title,
        template=PROCESS_MESSAGE_TEMPLATE, key=f"bpmn_message:{demande.id}:{message}:{sent_at}",
        extra={"objet": label},
    )  # fmt: skip


def sync_tasks(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    definition: Definition,
    ready: list[engine.ReadyTask],
    *,
    started: bool = False,
) -> None:
    """Mirror the workflow's ready human tasks into the inbox table.

    `started`: the diagram has just started, so the demande has no task nor access yet to
    look for.
    """
    live: Sequence[Task] = []
    if not started:
        live = session.scalars(
            select(Task).where(Task.demande_id == demande.id, Task.state.in_(LIVE_TASKS))
        ).all()
    ready_ids = {task.id for task in ready}
    for row in live:
        if row.spiff_task_id not in ready_ids:
            row.state = TaskState.CANCELLED
    known = {row.spiff_task_id for row in live}
    opened: set[int] = set()
    for task in ready:
        if task.id not in known:
            service_id = _open_task(session, ctx, demande, definition, task)
            if service_id is not None and service_id not in opened:
                consent.open_access(session, ctx.clock, demande.id, service_id, first=started)
                opened.add(service_id)


def _open_task(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    definition: Definition,
    task: engine.ReadyTask,
) -> int | None:
    """Add the task to the inbox; the service that holds it (None: the family's)."""
    now = ctx.clock.now()
    lane_target = definition.lanes.get(task.lane or "", "")
    for_family = lane_target == FAMILY_LANE
    service_id = None if for_family else _service_id(session, lane_target)
    settings = definition.task(task.spec_id)
    due = None
    if settings.sla_hours:
        due = ctx.calendar.add(now, timedelta(hours=settings.sla_hours))
    elif settings.timeout_days:
        due = now + timedelta(days=settings.timeout_days)
    session.add(
        Task(
            demande_id=demande.id,
            procedure_version_id=demande.procedure_version_id,
            spiff_task_id=task.id,
            spec_id=task.spec_id,
            title=task.name,
            lane=task.lane,
            service_id=service_id,
            for_family=for_family,
            state=TaskState.OPEN,
            created_at=now,
            due_at=due,
        )
    )
    return service_id


def _service_id(session: Session, code: str) -> int | None:
    return session.scalar(select(Service.id).where(Service.code == code))


def set_status(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    status: DemandeStatus,
    actor_id: int | None,
    kind: str,
    comment: str = "",
    task_id: int | None = None,
) -> None:
    """Change the status and write the transition into the demande's history."""
    previous = demande.status
    demande.status = status
    demande.updated_at = ctx.clock.now()
    record_event(session, ctx, demande, actor_id, kind, comment, previous, status, task_id)
