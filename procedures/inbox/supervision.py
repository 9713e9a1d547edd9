"""What a service's supervisors do: hand tasks to agents, and watch the service's figures.

A supervisor is an agent whose membership of a service says so (`AgentService.is_supervisor`);
every function here checks it against the services at hand, never trusts the caller.
Processing time is counted in working hours, without the time the demande waited on the
family: from the task's creation to its completion, minus each interval from the agent's
request to the family ("asked_family") to the family's answer ("family_answered").
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, tuple_
from sqlalchemy.orm import Session, load_only
from sqlalchemy.orm.exc import StaleDataError

from accounts.models import Account, AgentService, Role, Service
from procedures.catalogue import definition_of
from procedures.deadlines.escalation import (
    ACTIVE,
    STEP_TASK_COLUMNS,
    SlaState,
    WorkingTimeline,
    measure_all,
)
from procedures.deadlines.forecast import forecast
from procedures.deadlines.worked_time import family_waits, worked
from procedures.definitions import Definition
from procedures.errors import NotAllowed, TaskConflict
from procedures.history import EngineContext, record_event
from procedures.inbox.choices import ServiceChoice
from procedures.models import (
    Demande,
    DemandeStatus,
    ProcedureVersion,
    Task,
    TaskState,
)
from procedures.progress import all_or_nothing, set_status
from procedures.tasks import AgentActor, check_by_hand
from procedures.working_hours import SlaColor, WorkingCalendar

LIVE = (TaskState.OPEN, TaskState.CLAIMED, TaskState.WAITING_FAMILY)
# Written as the completed tasks' partial index says it (`ix_tasks_done`), not as a bound
# parameter, so that PostgreSQL matches the index whatever plan it keeps.
DONE = Task.state == literal_column(f"'{TaskState.DONE.value}'")
MAX_WEEKS = 52
WATCHED_SHOWN = 50  # late and soon-late tasks listed on the dashboard (all are counted)
LATE_MARGIN = 50


@dataclass(frozen=True)
class AgentChoice:
    account_id: int
    display_name: str
    service_ids: frozenset[int]


def supervised_services(session: Session, account_id: int) -> list[ServiceChoice]:
    """The services the account supervises, by name."""
    query = (
        select(Service.id, Service.name)
        .join(AgentService, AgentService.service_id == Service.id)
        .where(AgentService.account_id == account_id, AgentService.is_supervisor.is_(True))
        .order_by(Service.name, Service.id)
    )
    return [ServiceChoice(row.id, row.name) for row in session.execute(query)]


def supervised_tasks(session: Session, account_id: int, task_ids: Iterable[int]) -> frozenset[int]:
    """Which of these tasks belong to a service the account supervises."""
    supervised = select(AgentService.service_id).where(
        AgentService.account_id == account_id, AgentService.is_supervisor.is_(True)
    )
    query = select(Task.id).where(Task.id.in_(set(task_ids)), Task.service_id.in_(supervised))
    return frozenset(session.scalars(query))


def assignable_agents(session: Session, service_ids: Iterable[int]) -> list[AgentChoice]:
    """The active agents of these services, by name, with the services of these they belong to."""
    query = (
        select(Account.id, Account.display_name, AgentService.service_id)
        .join(AgentService, AgentService.account_id == Account.id)
        .where(
            AgentService.service_id.in_(set(service_ids)),
            Account.role == Role.AGENT,
            Account.is_active.is_(True),
        )
    )
    names: dict[int, str] = {}
    services: dict[int, set[int]] = defaultdict(set)
    for account_id, name, service_id in session.execute(query):
        names[account_id] = name
        services[account_id].add(service_id)
    return sorted(
        (AgentChoice(i, names[i], frozenset(services[i])) for i in names),
        key=lambda agent: (agent.display_name.casefold(), agent.account_id),
    )


def assign(
    session: Session,
    ctx: EngineContext,
    supervisor: AgentActor,
    task_ids: Iterable[int],
    agent_account_id: int,
) -> list[Task]:
    """Give open or claimed tasks to one agent of their service, all or nothing.

    NotAllowed if the supervisor does not supervise each task's service, or the agent does
    not belong to it (NotByHand: a step completed by a draw); TaskConflict if a task is no
    longer to be worked or changed meanwhile.
    A supervisor claims tasks for themself by naming their own account.
    """
    wanted = sorted(set(task_ids))
    if not wanted:
        raise ValueError("no task to assign")
    supervised = {choice.id for choice in supervised_services(session, supervisor.account_id)}
    found = session.scalars(select(Task).where(Task.id.in_(wanted)).order_by(Task.id)).all()
    if len(found) != len(wanted) or any(task.service_id not in supervised for task in found):
        raise NotAllowed(f"account {supervisor.account_id} does not supervise these tasks")
    agents = assignable_agents(session, {task.service_id for task in found if task.service_id})
    target = next((a for a in agents if a.account_id == agent_account_id), None)
    if target is None or any(task.service_id not in target.service_ids for task in found):
        raise NotAllowed(f"account {agent_account_id} is not an agent of these tasks' services")
    if any(task.state not in ACTIVE for task in found):
        raise TaskConflict("a task is no longer open")
    for task in found:  # a step completed by a draw is nobody's to hold
        check_by_hand(session, task)
    with all_or_nothing(session):
        for task in found:
            _hand_over(session, ctx, supervisor.account_id, task, target)
        try:
            session.commit()
        except StaleDataError:
            raise TaskConflict("a task was changed by someone else meanwhile") from None
    return list(found)


def _hand_over(
    session: Session, ctx: EngineContext, supervisor_id: int, task: Task, target: AgentChoice
) -> None:
    task.state, task.assignee_id = TaskState.CLAIMED, target.account_id
    demande = session.get_one(Demande, task.demande_id)
    if demande.status is DemandeStatus.DEPOSEE:
        set_status(session, ctx, demande, DemandeStatus.EN_INSTRUCTION, supervisor_id, "claimed")
    record_event(
        session, ctx, demande, supervisor_id, "assigned", target.display_name,
        task_id=task.id, internal=True,
    )  # fmt: skip


@dataclass(frozen=True)
class StepLoad:
    """The live tasks of one step of one procedure."""

    procedure_title: str
    step_title: str
    open: int
    claimed: int
    waiting_family: int

    @property
    def total(self) -> int:
        return self.open + self.claimed + self.waiting_family


@dataclass(frozen=True)
class WatchedTask:
    """A task to keep an eye on: late, or soon to be."""

    task_id: int
    demande_id: int
    demande_number: str | None
    procedure_title: str
    step_title: str
    service_name: str
    assignee_name: str | None
    due_at: datetime
    left: timedelta  # working time; negative once late
    color: SlaColor


@dataclass(frozen=True)
class ForecastTask:
    """A task not late yet that will pass its deadline at its step's recent pace."""

    task: WatchedTask
    finish_at: datetime | None  # None: nothing of its step completed in four weeks


@dataclass(frozen=True)
class WeekCount:
    monday: date
    demandes: int


@dataclass(frozen=True)
class Dashboard:
    services: list[ServiceChoice]  # the services the figures cover
    since: datetime  # start of the first week counted (a Monday, midnight, local time)
    steps: list[StepLoad]
    late: list[WatchedTask]  # most late first (the first `shown` of them)
    soon_late: list[WatchedTask]  # least time left first (the first `shown` of them)
    processed: int  # service tasks completed since `since`
    median_processing: timedelta | None  # their median working time, without family waits
    weeks: list[WeekCount]  # demandes submitted each week, oldest first, empty weeks included
    late_count: int = 0  # all the late tasks, listed or not
    soon_late_count: int = 0
    forecast: list[ForecastTask] = field(default_factory=list)  # soonest deadline first
    forecast_count: int = 0  # all the tasks forecast late, listed or not


def dashboard(
    session: Session,
    supervisor_id: int,
    now: datetime,
    *,
    service_id: int | None = None,
    weeks: int = 8,
    calendar: WorkingCalendar | None = None,
    shown: int | None = WATCHED_SHOWN,
) -> Dashboard:
    """The figures of the services the account supervises (or of one of them).

    NotAllowed if the account supervises no service, or not the one asked. `weeks` (1 to 52)
    counts back from the current week, for processing times and demandes per week. `shown`:
    how many late and soon-late tasks are listed (None: all, for the export); all are counted.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks is between 1 and {MAX_WEEKS}")
    calendar = calendar or WorkingCalendar()
    services = supervised_services(session, supervisor_id)
    if service_id is not None:
        services = [choice for choice in services if choice.id == service_id]
    if not services:
        raise NotAllowed(f"account {supervisor_id} does not supervise the services asked")
    ids = frozenset(choice.id for choice in services)
    mondays = _mondays(now, weeks, calendar.timezone)
    since = datetime.combine(mondays[0], time(0), ZoneInfo(calendar.timezone)).astimezone(UTC)
    published = _published(session)
    late, late_count = _late(session, ids, now, calendar, shown)
    soon_late, soon_late_count = _soon_late(session, ids, now, calendar, shown, published)
    processed, median = _processing(session, ids, since, now, calendar)
    versions = _versions_of(session, ids, published)
    ahead, ahead_count = _forecast(session, ids, now, calendar, shown, published)
    return Dashboard(
        services=services,
        since=since,
        steps=_steps(session, ids),
        late=late,
        soon_late=soon_late,
        processed=processed,
        median_processing=median,
        weeks=_per_week(session, versions, since, mondays, calendar.timezone),
        late_count=late_count,
        soon_late_count=soon_late_count,
        forecast=ahead,
        forecast_count=ahead_count,
    )


Published = dict[int, Definition]  # every published version's metadata, by version


def _published(session: Session) -> Published:
    versions = session.scalars(
        select(ProcedureVersion).options(
            load_only(ProcedureVersion.id, ProcedureVersion.metadata_json)
        )
    )
    return {version.id: definition_of(version) for version in versions}


def _steps(session: Session, service_ids: frozenset[int]) -> list[StepLoad]:
    """The live tasks per procedure and step: counted on the tasks alone (each carries its
    version), the versions' titles read after; versions with one title count as one."""
    query = (
        select(Task.procedure_version_id, Task.title, Task.state, func.count())
        .where(Task.service_id.in_(service_ids), Task.state.in_(LIVE))
        .group_by(Task.procedure_version_id, Task.title, Task.state)
    )
    rows = session.execute(query).all()
    versions = {row[0] for row in rows}
    named = select(ProcedureVersion.id, ProcedureVersion.title)
    titles: dict[int, str] = {
        row.id: row.title for row in session.execute(named.where(ProcedureVersion.id.in_(versions)))
    }
    counts: dict[tuple[str, str], dict[TaskState, int]] = defaultdict(lambda: defaultdict(int))
    for version_id, step, state, count in rows:
        counts[titles[version_id], step][state] += count
    return [
        StepLoad(
            procedure,
            step,
            by_state.get(TaskState.OPEN, 0),
            by_state.get(TaskState.CLAIMED, 0),
            by_state.get(TaskState.WAITING_FAMILY, 0),
        )
        for (procedure, step), by_state in sorted(counts.items())
    ]


def _late(
    session: Session,
    service_ids: frozenset[int],
    now: datetime,
    calendar: WorkingCalendar,
    shown: int | None,
) -> tuple[list[WatchedTask], int]:
    """The `shown` most late tasks being worked, and how many are late: a task being worked
    is late exactly when its deadline has passed, so the database counts them and gives the
    earliest deadlines; only those listed are measured."""
    listed, count = _earliest(session, service_ids, Task.due_at < now, now, calendar, shown)
    late = sorted(listed, key=lambda task: (task.left, task.task_id))
    return late[:shown], count


def _earliest(
    session: Session,
    service_ids: frozenset[int],
    condition: ColumnElement[bool],
    now: datetime,
    calendar: WorkingCalendar,
    shown: int | None,
) -> tuple[list[WatchedTask], int]:
    """How many tasks being worked meet the condition, and those with the earliest
    deadlines, measured: a few more than shown, since equal working time left (deadlines in
    the same night or weekend) is ordered by task, not by deadline."""
    being_worked = and_(Task.service_id.in_(service_ids), Task.state.in_(ACTIVE), condition)
    count = session.scalar(select(func.count()).select_from(Task).where(being_worked)) or 0
    query = _watched_query(service_ids).where(condition).order_by(Task.due_at, Task.id)
    if shown is not None:
        # The tasks picked from the inbox index alone, then their details: joined first,
        # every task meeting the condition would be joined before the sort.
        earliest = (
            select(Task.id)
            .where(being_worked, Task.due_at.is_not(None))
            .order_by(Task.due_at, Task.id)
            .limit(shown + LATE_MARGIN)
        )
        query = query.where(Task.id.in_(list(session.scalars(earliest))))
    return _measured(session, session.execute(query).all(), now, calendar), count


def _forecast(
    session: Session,
    service_ids: frozenset[int],
    now: datetime,
    calendar: WorkingCalendar,
    shown: int | None,
    published: Published,
) -> tuple[list[ForecastTask], int]:
    """The `shown` tasks forecast to pass their deadline soonest (`procedures.deadlines.
    forecast`), with their details, and how many are forecast late."""
    codes = {version_id: definition.code for version_id, definition in published.items()}
    limit = shown if shown is not None else 2**31
    ahead = forecast(session, service_ids, now, calendar=calendar, shown=limit, codes=codes)
    if not ahead.late:
        return [], ahead.count
    query = _watched_query(service_ids).where(Task.id.in_([task.task_id for task in ahead.late]))
    details = {
        task.task_id: task
        for task in _measured(session, session.execute(query).all(), now, calendar)
    }
    return [
        ForecastTask(details[task.task_id], task.finish_at)
        for task in ahead.late
        if task.task_id in details
    ], ahead.count


def _watched_query(service_ids: frozenset[int]) -> Any:
    return (
        select(
            *STEP_TASK_COLUMNS,
            Task.demande_id,
            Task.title,
            Demande.number,
            ProcedureVersion.title.label("procedure_title"),
            Service.name.label("service_name"),
            Account.display_name,
        )
        .join(Demande, Demande.id == Task.demande_id)
        .join(ProcedureVersion, ProcedureVersion.id == Task.procedure_version_id)
        .join(Service, Service.id == Task.service_id)
        .outerjoin(Account, Account.id == Task.assignee_id)
        .where(Task.service_id.in_(service_ids), Task.state.in_(ACTIVE), Task.due_at.is_not(None))
    )


def _soon_late(
    session: Session,
    service_ids: frozenset[int],
    now: datetime,
    calendar: WorkingCalendar,
    shown: int | None,
    published: Published,
) -> tuple[list[WatchedTask], int]:
    """The `shown` tasks being worked with the least time left before a deadline not yet
    passed but in its step's last quarter ("orange"), and how many there are.

    A step promising P working hours is orange exactly while at most P / 4 is left, that is
    while the deadline is before now + P / 4 + 1 µs in working time: the database counts
    and picks those, step by step, and only the listed are measured. Steps with a deadline in
    calendar days only (`timeout_days`) are measured against their own span (which a wait
    on the family lengthens), in Python.
    """
    promises, spans = _promises(published)
    coming = Task.due_at >= now
    step = tuple_(Task.procedure_version_id, Task.spec_id)
    listed: list[WatchedTask] = []
    count = 0
    tick = timedelta(microseconds=1)
    quarters = [
        and_(step.in_(pairs), Task.due_at < calendar.add(now, promised / 4 + tick))
        for promised, pairs in promises.items()
    ]
    if quarters:
        near = and_(coming, or_(*quarters))
        listed, count = _earliest(session, service_ids, near, now, calendar, shown)
    if spans:
        query = _watched_query(service_ids).where(coming, step.in_(spans))
        measured = _measured(session, session.execute(query).all(), now, calendar)
        orange = [task for task in measured if task.color == "orange"]
        count += len(orange)
        listed += orange
    listed.sort(key=lambda task: (task.left, task.task_id))
    return listed[:shown], count


def _measured(
    session: Session, rows: Sequence[Any], now: datetime, calendar: WorkingCalendar
) -> list[WatchedTask]:
    states = measure_all(session, rows, now, calendar)
    return [_watched_task(row, state) for row in rows if (state := states[row.id]) is not None]


def _promises(
    published: Published,
) -> tuple[dict[timedelta, list[tuple[int, str]]], list[tuple[int, str]]]:
    """Every published (version, step) by the working time it promises, and those whose
    deadline is in calendar days only."""
    promises: dict[timedelta, list[tuple[int, str]]] = defaultdict(list)
    spans: list[tuple[int, str]] = []
    for version_id, definition in published.items():
        for spec_id, settings in definition.tasks.items():
            if settings.sla_hours:
                promises[timedelta(hours=settings.sla_hours)].append((version_id, spec_id))
            elif settings.timeout_days:
                spans.append((version_id, spec_id))
    return promises, spans


def _watched_task(row: Any, sla: SlaState) -> WatchedTask:
    return WatchedTask(
        task_id=row.id,
        demande_id=row.demande_id,
        demande_number=row.number,
        procedure_title=row.procedure_title,
        step_title=row.title,
        service_name=row.service_name,
        assignee_name=row.display_name,
        due_at=row.due_at,
        left=sla.left,
        color=sla.color,
    )


def _processing(
    session: Session,
    service_ids: frozenset[int],
    since: datetime,
    now: datetime,
    calendar: WorkingCalendar,
) -> tuple[int, timedelta | None]:
    """How many service tasks were completed since `since`, and their median working time.

    PostgreSQL takes the median of the stored times itself, from the completed tasks' index
    alone, when all of them are stored; otherwise (SQLite, or tasks completed before the time
    was stored) it is taken here.
    """
    if session.get_bind().dialect.name == "postgresql":
        in_window = and_(Task.service_id.in_(service_ids), DONE, Task.completed_at >= since)
        middle = func.percentile_cont(0.5).within_group(Task.worked_seconds)
        query = select(func.count(), func.count(Task.worked_seconds), middle).where(in_window)
        count, stored, median = session.execute(query).one()
        if count == stored:
            return int(count), timedelta(seconds=float(median)) if count else None
    durations = _processing_times(session, service_ids, since, now, calendar)
    return len(durations), _median(durations)


def _processing_times(
    session: Session,
    service_ids: frozenset[int],
    since: datetime,
    now: datetime,
    calendar: WorkingCalendar,
) -> list[timedelta]:
    """Working time each service task completed since `since` took, without family waits:
    stored at completion (one query), measured here only for tasks completed before it was."""
    in_window = and_(Task.service_id.in_(service_ids), DONE, Task.completed_at >= since)
    stored = session.scalars(
        select(Task.worked_seconds).where(in_window, Task.worked_seconds.is_not(None))
    )
    durations = [timedelta(seconds=seconds or 0) for seconds in stored]
    done = (
        select(Task.id, Task.demande_id, Task.created_at, Task.completed_at)
        .where(in_window, Task.worked_seconds.is_(None))
        .order_by(Task.id)
    )
    tasks = session.execute(done).all()
    if not tasks:
        return durations
    waits = family_waits(session, done.with_only_columns(Task.demande_id).order_by(None))
    instants = [since, now, *(task.created_at for task in tasks)]
    instants += [task.completed_at for task in tasks]
    instants += [asked for intervals in waits.values() for asked, _ in intervals]
    timeline = WorkingTimeline(calendar, min(instants), max(instants))
    return durations + [
        worked(task.created_at, task.completed_at, waits.get(task.id, []), timeline.between)
        for task in tasks
    ]


def _median(durations: list[timedelta]) -> timedelta | None:
    if not durations:
        return None
    return timedelta(seconds=statistics.median(d.total_seconds() for d in durations))


def _mondays(now: datetime, weeks: int, timezone: str) -> list[date]:
    """The Mondays of the last `weeks` weeks, the current one last, in the town's time zone."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    current = today - timedelta(days=today.weekday())
    return [current - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def _versions_of(session: Session, service_ids: frozenset[int], published: Published) -> set[int]:
    """The published versions with a lane one of the services handles."""
    codes = set(session.scalars(select(Service.code).where(Service.id.in_(service_ids))))
    return {
        version_id
        for version_id, definition in published.items()
        if codes.intersection(definition.lanes.values())
    }


def _per_week(
    session: Session,
    version_ids: set[int],
    since: datetime,
    mondays: list[date],
    timezone: str,
) -> list[WeekCount]:
    """Demandes submitted each week on a procedure version one of the services handles (a
    lane of its diagram), whether or not the demande has reached that lane yet.

    Counted by the database, one column a week, on the demandes alone: a busy back-to-school
    brings tens of thousands of demandes into the window.
    """
    zone = ZoneInfo(timezone)
    starts = [datetime.combine(monday, time(0), zone).astimezone(UTC) for monday in mondays]
    after = datetime.combine(mondays[-1] + timedelta(weeks=1), time(0), zone).astimezone(UTC)
    ends = [*starts[1:], after]
    at = Demande.submitted_at
    weekly = [
        func.count().filter(and_(at >= start, at < end))
        for start, end in zip(starts, ends, strict=True)
    ]
    handled = Demande.procedure_version_id.in_(version_ids)
    counts = session.execute(select(*weekly).where(at >= since, handled)).one()
    return [WeekCount(monday, int(count)) for monday, count in zip(mondays, counts, strict=True)]
