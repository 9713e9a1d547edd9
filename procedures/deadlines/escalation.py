"""Deadlines of the services' tasks: how much working time is left, and escalation when none is.

A task's clock runs in working hours from its creation to its `due_at`. While the demande
waits on the family the clock is paused: the task keeps the working time it had left
(`paused_remaining_seconds`) and gets a new `due_at` when the family answers. A service task
still open past its deadline is escalated once: an internal line in the demande's history
and an e-mail to each supervisor of the service.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, load_only

from accounts.models import Account, AgentService, Service
from notifications import outbox, templates
from procedures.catalogue import definition_of
from procedures.definitions import TaskSettings
from procedures.history import EngineContext, record_event
from procedures.models import Demande, ProcedureVersion, Task, TaskState
from procedures.progress import version_of
from procedures.working_hours import SlaColor, WorkingCalendar, sla_color

ACTIVE = (TaskState.OPEN, TaskState.CLAIMED)
ESCALATION_BATCH = 100

Between = Callable[[datetime, datetime], timedelta]


class TimedTask(Protocol):
    """What the deadline of a task is computed from: a Task, or a row with the same names."""

    @property
    def state(self) -> TaskState: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def paused_remaining_seconds(self) -> int | None: ...
    @property
    def completed_at(self) -> datetime | None: ...


class SlaState(NamedTuple):
    """Working time left (negative once late) and the colour of the deadline's progress bar."""

    left: timedelta
    color: SlaColor


def sla_state(
    task: TimedTask, now: datetime, calendar: WorkingCalendar, allowed: timedelta | None = None
) -> SlaState | None:
    """Where a task stands against its deadline; None for a task without one.

    `allowed` is the task's promised working time (the procedure's `sla_hours`) when known.
    Without it, the working time from creation to `due_at` stands in: exact until the family
    is first asked, after which it also counts the time paused. A finished task is measured
    when it was completed; a task waiting on the family by the time it had left then.
    """
    return measure(task, now, calendar.working_time_between, allowed)


def measure(
    task: TimedTask, now: datetime, between: Between, allowed: timedelta | None = None
) -> SlaState | None:
    """`sla_state` with any measure of working time (a calendar's, or a `WorkingTimeline`'s)."""
    if task.due_at is None:
        return None
    if task.state is TaskState.DONE and task.completed_at is not None:
        now = task.completed_at
    if allowed is None:
        allowed = between(task.created_at, task.due_at)
    if task.state is TaskState.WAITING_FAMILY:
        left = timedelta(seconds=task.paused_remaining_seconds or 0)
        # A deadline reached before the family was asked: nothing was left to pause.
        if left <= timedelta(0) and task.due_at < now:
            return SlaState(left, "rouge")
    elif task.due_at < now:
        return SlaState(-between(task.due_at, now), "rouge")
    else:
        left = between(now, task.due_at)
    return SlaState(left, sla_color(max(allowed - left, timedelta(0)), allowed))


class StepTask(TimedTask, Protocol):
    """A timed task row that also names its step in its procedure version."""

    @property
    def id(self) -> int: ...
    @property
    def procedure_version_id(self) -> int: ...
    @property
    def spec_id(self) -> str: ...


# The columns a `StepTask` row needs, all the task's own.
STEP_TASK_COLUMNS = (
    Task.id,
    Task.state,
    Task.created_at,
    Task.due_at,
    Task.paused_remaining_seconds,
    Task.completed_at,
    Task.spec_id,
    Task.procedure_version_id,
)
Promised = dict[tuple[int, str], timedelta | None]


def step_settings(
    session: Session, rows: Iterable[StepTask]
) -> dict[tuple[int, str], TaskSettings]:
    """Each (procedure version, step)'s settings, from the published metadata."""
    wanted = {(row.procedure_version_id, row.spec_id) for row in rows}
    query = (
        select(ProcedureVersion)
        .options(load_only(ProcedureVersion.id, ProcedureVersion.metadata_json))
        .where(ProcedureVersion.id.in_({version_id for version_id, _ in wanted}))
    )
    definitions = {version.id: definition_of(version) for version in session.scalars(query)}
    return {
        (version_id, spec_id): definitions[version_id].task(spec_id)
        for version_id, spec_id in wanted
    }


def promised_times(session: Session, rows: Iterable[StepTask]) -> Promised:
    """Each (procedure version, step)'s promised working time, from the published metadata."""
    return promised_of(step_settings(session, rows))


def promised_of(settings: dict[tuple[int, str], TaskSettings]) -> Promised:
    """The promised working time of each step of `step_settings`."""
    return {
        key: timedelta(hours=step.sla_hours) if step.sla_hours is not None else None
        for key, step in settings.items()
    }


def measure_all(
    session: Session, rows: Sequence[StepTask], now: datetime, calendar: WorkingCalendar
) -> dict[int, SlaState | None]:
    """Each row's `sla_state` by task id, against its step's promised time, measured in bulk."""
    if not rows:
        return {}
    promised = promised_times(session, rows)
    instants = [now]
    for row in rows:
        instants += [row.created_at, row.due_at or now, row.completed_at or now]
    timeline = WorkingTimeline(calendar, min(instants), max(instants))
    return {
        row.id: measure(row, now, timeline.between, promised[row.procedure_version_id, row.spec_id])
        for row in rows
    }


def late(now: datetime) -> ColumnElement[bool]:
    """The SQL twin of a "rouge" `sla_state` (for finished tasks, late when completed)."""
    past_due = Task.due_at < now
    return or_(
        and_(Task.state.in_(ACTIVE), past_due),
        and_(Task.state == TaskState.DONE, Task.due_at < func.coalesce(Task.completed_at, now)),
        and_(
            Task.state == TaskState.WAITING_FAMILY,
            func.coalesce(Task.paused_remaining_seconds, 0) <= 0,
            past_due,
        ),
    )


class WorkingTimeline:
    """A calendar's opening windows over a span, to measure thousands of intervals at once.

    `between(a, b)` equals `calendar.working_time_between(a, b)` for instants within
    [start, end]; it costs one bisection per instant instead of a walk over the days.
    """

    def __init__(self, calendar: WorkingCalendar, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end
        zone = ZoneInfo(calendar.timezone)
        day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        self._openings: list[datetime] = []
        self._closings: list[datetime] = []
        self._before: list[timedelta] = []  # working time of the windows before each one
        total = timedelta(0)
        while day <= last:
            if calendar.is_working_day(day):
                opening = datetime.combine(day, calendar.opens, tzinfo=zone).astimezone(UTC)
                closing = datetime.combine(day, calendar.closes, tzinfo=zone).astimezone(UTC)
                self._openings.append(opening)
                self._closings.append(closing)
                self._before.append(total)
                total += closing - opening
            day += timedelta(days=1)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time elapsed from `start` to `end`; zero if `end <= start`."""
        return max(self._position(end) - self._position(start), timedelta(0))

    def _position(self, instant: datetime) -> timedelta:
        if not self.start <= instant <= self.end:
            raise ValueError("instant outside the timeline's span")
        index = bisect_right(self._openings, instant) - 1
        if index < 0:
            return timedelta(0)
        inside = min(instant, self._closings[index]) - self._openings[index]
        return self._before[index] + inside


def fire_escalations(session: Session, ctx: EngineContext, batch: int = ESCALATION_BATCH) -> int:
    """Escalate the services' tasks past their deadline, once each; commits per batch.

    Tasks waiting on the family are not escalated: their clock is paused. Rows another
    worker holds are skipped (PostgreSQL); it escalates them itself.
    """
    now = ctx.clock.now()
    escalated = 0
    while True:
        due = session.scalars(
            select(Task)
            .where(
                Task.for_family.is_(False),
                Task.service_id.is_not(None),
                Task.state.in_(ACTIVE),
                Task.due_at < now,
                Task.escalated_at.is_(None),
            )
            .order_by(Task.due_at, Task.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        _escalate(session, ctx, due, now)
        session.commit()
        escalated += len(due)
        if len(due) < batch:
            return escalated


def _escalate(session: Session, ctx: EngineContext, due: Sequence[Task], now: datetime) -> None:
    if not due:
        return
    # A plain UPDATE leaves the row version alone: an agent completing the task meanwhile
    # must not get a conflict because the worker noted the escalation.
    session.execute(
        update(Task).where(Task.id.in_([task.id for task in due])).values(escalated_at=now)
    )
    for task in due:
        demande = session.get_one(Demande, task.demande_id)
        record_event(session, ctx, demande, None, "escalated", task_id=task.id, internal=True)
        _notify_supervisors(session, ctx, demande, task)


def _notify_supervisors(session: Session, ctx: EngineContext, demande: Demande, task: Task) -> None:
    assert task.service_id is not None and task.due_at is not None  # the query's conditions
    service = session.get_one(Service, task.service_id)
    context = {
        "demarche": version_of(session, demande).title,
        "reference": demande.number or str(demande.id),
        "service": service.name,
        "echeance": _deadline_fr(task.due_at, ctx.calendar),
        "lien": f"{ctx.base_url}/agent/demandes/{demande.id}",
    }
    for account in _supervisors(session, task.service_id):
        outbox.enqueue(
            session,
            ctx.clock,
            key=f"escalade:{task.id}:{account.id}",
            recipient=account.email,
            template="escalade",
            context=context,
        )


def _supervisors(session: Session, service_id: int) -> Sequence[Account]:
    query = (
        select(Account)
        .join(AgentService, AgentService.account_id == Account.id)
        .where(
            AgentService.service_id == service_id,
            AgentService.is_supervisor.is_(True),
            Account.is_active.is_(True),
        )
        .order_by(Account.id)
    )
    return session.scalars(query).all()


def _deadline_fr(instant: datetime, calendar: WorkingCalendar) -> str:
    """« 3 septembre 2026 à 17 h 30 », in the town's time zone."""
    local = instant.astimezone(ZoneInfo(calendar.timezone))
    return f"{templates.date_fr(local.date())} à {local:%H} h {local:%M}"
