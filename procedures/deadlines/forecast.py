"""Which open tasks will pass their deadline if nothing changes, and when: for supervisors.

The model. Each service works each step's queue at the pace it kept over the last four
weeks: the tasks of that step it completed, per working hour of the window. It works the
queue in deadline order (earliest first, then by task); tasks already late stay in it, first.
The k-th task of a step's queue is done once k / pace working hours have passed from now; it
is forecast late when that instant is after its deadline. A step of which nothing was
completed in four weeks moves at no pace: its whole queue is forecast late, with no end.
A step is a procedure's step (its code and the task's `spec_id`, whatever the version) in
one service. Only tasks being worked count (open or taken); a task waiting on the family
has its clock paused and no deadline to pass.

The database counts each step's queue per day of deadline, days counted from now (one
grouped query, an index-only scan of `ix_tasks_queue`: it still reads every task being worked,
the cost that remains); a day is then all late, all on time, or mixed, so the work here grows
with the queue's days, not its tasks. Only the mixed days are read task by task, and of the
late days the first tasks, as many as listed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, and_, func, literal, literal_column, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from procedures.models import ProcedureVersion, Task, TaskState
from procedures.working_hours import WorkingCalendar

PACE_WINDOW = timedelta(weeks=4)
HORIZON = timedelta(days=3660)  # an end further than ten years is not given
_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SLACK = timedelta(seconds=1)  # around the days read: the database rounds its own way
_MARGIN = 50
# As the partial indexes say them (`ix_tasks_done`, `ix_tasks_queue`), so that they are used.
_DONE = Task.state == literal_column(f"'{TaskState.DONE.value}'")
_BEING_WORKED = text("tasks.state IN ('open', 'claimed')")


class Step(NamedTuple):
    """A procedure's step, in one service."""

    service_id: int
    procedure: str  # the procedure's code, the same across its versions
    spec_id: str


@dataclass(frozen=True)
class Pace:
    """What a service completed of a step over the window, and the window's working time."""

    completed: int
    over: timedelta

    @property
    def per_hour(self) -> float:
        return self.completed * 3600 / self.over.total_seconds() if self.over else 0.0

    def needed(self, rank: int) -> timedelta | None:
        """The working time until the rank-th task of the queue is done; None at no pace."""
        if not self.completed or not self.over:
            return None
        return self.over * rank / self.completed


@dataclass(frozen=True)
class LateTask:
    """A task forecast to pass its deadline."""

    task_id: int
    due_at: datetime
    # When it would be done: None when its step moves at no pace, or beyond ten years.
    finish_at: datetime | None


@dataclass(frozen=True)
class Forecast:
    late: list[LateTask]  # not late yet, soonest deadline first (the first `shown`)
    count: int  # all the tasks not late yet that are forecast late
    asked: dict[int, LateTask]  # those of the asked tasks forecast late, by id
    paces: dict[Step, Pace]


def forecast(
    session: Session,
    service_ids: frozenset[int],
    now: datetime,
    *,
    calendar: WorkingCalendar | None = None,
    shown: int = 50,
    tasks: Sequence[int] = (),
    codes: Mapping[int, str] | None = None,
) -> Forecast:
    """The tasks of these services forecast to pass their deadline, from each step's pace.

    `tasks`: tasks (of a page) whose verdict is wanted whatever their rank in the list.
    `codes`: each procedure version's code, when the caller has read them already.
    """
    calendar = calendar or WorkingCalendar()
    codes = codes if codes is not None else _codes(session)
    timeline = _Timeline(calendar, now)
    paces = _paces(session, service_ids, now, calendar, codes)
    days = {
        (step, day.day): day
        for step, queue in _queues(session, service_ids, now, codes).items()
        for day in _classify(queue, paces.get(step), now, timeline)
    }
    count = sum(day.count for day in days.values() if day.verdict == "late")
    whole = {key for key, day in days.items() if day.verdict == "mixed"}
    whole |= _asked_days(session, service_ids, now, tasks, codes)
    read = _read(session, service_ids, now, whole, codes)
    read += _read(session, service_ids, now, _first_late(days, whole, shown), codes, shown)
    late: list[LateTask] = []
    for row, key in read:
        day = days[key]
        rank = day.before + day.seen()
        pace = paces.get(key[0])
        needed = pace.needed(rank) if pace else None
        if row.due_at < now or (needed is not None and needed <= timeline.worked(row.due_at)):
            continue
        late.append(LateTask(row.id, row.due_at, timeline.at(needed) if needed else None))
        if day.verdict == "mixed":  # the late days are counted whole above
            count += 1
    late.sort(key=lambda task: (task.due_at, task.task_id))
    asked = set(tasks)
    return Forecast(
        late[:shown], count, {task.task_id: task for task in late if task.task_id in asked}, paces
    )


def _codes(session: Session) -> dict[int, str]:
    rows = session.execute(select(ProcedureVersion.id, ProcedureVersion.code))
    return {row.id: row.code for row in rows}


def _paces(
    session: Session,
    service_ids: frozenset[int],
    now: datetime,
    calendar: WorkingCalendar,
    codes: Mapping[int, str],
) -> dict[Step, Pace]:
    """Each step's tasks completed over the last four weeks, read from the completed tasks."""
    since = now - PACE_WINDOW
    over = calendar.working_time_between(since, now)
    query = (
        select(Task.service_id, Task.procedure_version_id, Task.spec_id, func.count())
        .where(Task.service_id.in_(service_ids), _DONE, Task.completed_at >= since)
        .group_by(Task.service_id, Task.procedure_version_id, Task.spec_id)
    )
    completed: dict[Step, int] = defaultdict(int)
    for service_id, version_id, spec_id, count in session.execute(query):
        completed[_step(service_id, codes[version_id], spec_id)] += count
    return {step: Pace(count, over) for step, count in completed.items()}


class _DayFrom(FunctionElement[int]):
    """The day of an instant counted from another (seconds since 1970): 0 for the first
    24 hours from it, -1 for the 24 hours before."""

    type = Integer()
    inherit_cache = True


@compiles(_DayFrom)
def _day_from(element: _DayFrom, compiler: SQLCompiler, **kw: Any) -> str:
    instant, origin = (compiler.process(clause, **kw) for clause in element.clauses)
    # date_part: a double, cheaper to work out on every row than extract's numeric.
    return f"floor((date_part('epoch', {instant}) - {origin}) / 86400)"


@compiles(_DayFrom, "sqlite")
def _day_from_sqlite(element: _DayFrom, compiler: SQLCompiler, **kw: Any) -> str:
    instant, origin = (compiler.process(clause, **kw) for clause in element.clauses)
    seconds = f"(julianday({instant}) - 2440587.5) * 86400.0"
    # CAST truncates towards zero: shifted to stay positive, so that it floors.
    return f"(CAST((({seconds}) - {origin}) / 86400 + 100000 AS INTEGER) - 100000)"


def _day(now: datetime) -> _DayFrom:
    return _DayFrom(Task.due_at, literal((now - _EPOCH).total_seconds(), Float()))


Queue = list[tuple[int, int]]  # (day from now, tasks due that day), by day


def _queues(
    session: Session, service_ids: frozenset[int], now: datetime, codes: Mapping[int, str]
) -> dict[Step, Queue]:
    """Each step's tasks being worked with a deadline, counted per day of deadline: read
    from the queues' index (`ix_tasks_queue`) alone."""
    day = _day(now)
    columns = (Task.service_id, Task.procedure_version_id, Task.spec_id)
    query = (
        select(*columns, day, func.count())
        .where(Task.service_id.in_(service_ids), _BEING_WORKED, Task.due_at.is_not(None))
        .group_by(*columns, day)
    )
    counts: dict[Step, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for service_id, version_id, spec_id, number, count in session.execute(query):
        counts[_step(service_id, codes[version_id], spec_id)][int(number)] += count
    return {step: sorted(by_day.items()) for step, by_day in counts.items()}


@dataclass
class _Day:
    """One day of a step's queue: its tasks' ranks, and the verdict on them all."""

    day: int
    before: int  # tasks of the step's queue ahead of this day's
    count: int
    verdict: Literal["late", "on_time", "past", "mixed"]  # past: all late already
    read: int = 0  # its tasks read one by one so far, in queue order

    def seen(self) -> int:
        """Count one more task read: its position in the day."""
        self.read += 1
        return self.read


def _classify(queue: Queue, pace: Pace | None, now: datetime, timeline: _Timeline) -> list[_Day]:
    """Each day of a step's queue: a task due that day is late exactly when the working time
    until it is done passes the working time until its deadline."""
    days = []
    before = 0
    for number, count in queue:
        start, end = now + number * _DAY, now + (number + 1) * _DAY
        first = pace.needed(before + 1) if pace else None
        last = pace.needed(before + count) if pace else None
        verdict: Literal["late", "on_time", "past", "mixed"] = "mixed"
        if number < 0:
            verdict = "past"
        elif last is not None and last <= timeline.worked(start):
            verdict = "on_time"
        elif first is None or first > timeline.worked(end):
            verdict = "late"
        days.append(_Day(number, before, count, verdict))
        before += count
    return days


def _asked_days(
    session: Session,
    service_ids: frozenset[int],
    now: datetime,
    tasks: Sequence[int],
    codes: Mapping[int, str],
) -> set[tuple[Step, int]]:
    """The (step, day) of each asked task being worked with a deadline."""
    if not tasks:
        return set()
    query = select(Task.service_id, Task.procedure_version_id, Task.spec_id, _day(now)).where(
        Task.id.in_(set(tasks)),
        Task.service_id.in_(service_ids),
        _BEING_WORKED,
        Task.due_at.is_not(None),
    )
    return {
        (_step(service_id, codes[version_id], spec_id), int(number))
        for service_id, version_id, spec_id, number in session.execute(query)
    }


def _first_late(
    days: dict[tuple[Step, int], _Day], whole: set[tuple[Step, int]], shown: int
) -> set[tuple[Step, int]]:
    """The first late days, all steps together, until they hold `shown` tasks: a day begun
    is taken for every step, their tasks interleave (those read whole left out)."""
    late = sorted((key for key, day in days.items() if day.verdict == "late"), key=lambda k: k[1])
    first: set[tuple[Step, int]] = set()
    held, last = 0, None
    for key in late:
        if held >= shown and key[1] != last:
            break
        held, last = held + days[key].count, key[1]
        if key not in whole:
            first.add(key)
    return first


def _read(
    session: Session,
    service_ids: frozenset[int],
    now: datetime,
    wanted: set[tuple[Step, int]],
    codes: Mapping[int, str],
    limit: int | None = None,
) -> list[tuple[Any, tuple[Step, int]]]:
    """The tasks due on the wanted days of their step, in queue order (deadline, then id),
    each with its (step, day); the first `limit` only when given."""
    if not wanted or limit == 0:
        return []
    versions: dict[str, list[int]] = defaultdict(list)
    for version_id, code in codes.items():
        versions[code].append(version_id)
    by_step: dict[Step, list[int]] = defaultdict(list)
    for step, number in wanted:
        by_step[step].append(number)
    conditions = [
        and_(
            Task.service_id == step.service_id,
            Task.procedure_version_id.in_(versions[step.procedure]),
            Task.spec_id == step.spec_id,
            or_(*[and_(Task.due_at >= a, Task.due_at < b) for a, b in _ranges(now, numbers)]),
        )
        for step, numbers in sorted(by_step.items())
    ]
    columns = (Task.id, Task.service_id, Task.procedure_version_id, Task.spec_id, Task.due_at)
    query = (
        select(*columns, _day(now).label("day"))
        .where(Task.service_id.in_(service_ids), _BEING_WORKED, or_(*conditions))
        .order_by(Task.due_at, Task.id)
    )
    if limit is not None:
        # A few more: the slack around the days may bring a neighbour's tasks, left out.
        query = query.limit(limit + _MARGIN)
    read = []
    for row in session.execute(query):
        key = (_step(row.service_id, codes[row.procedure_version_id], row.spec_id), int(row.day))
        if key in wanted:  # not a neighbour read for the slack around the days
            read.append((row, key))
            if len(read) == limit:
                break
    return read


def _ranges(now: datetime, numbers: list[int]) -> list[tuple[datetime, datetime]]:
    """Day numbers as spans of consecutive days, a second wider on each side."""
    spans: list[tuple[datetime, datetime]] = []
    for number in sorted(numbers):
        start, end = now + number * _DAY - _SLACK, now + (number + 1) * _DAY + _SLACK
        if spans and spans[-1][1] >= start:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _step(service_id: int | None, procedure: str, spec_id: str) -> Step:
    assert service_id is not None  # the queries keep the services' tasks only
    return Step(service_id, procedure, spec_id)


class _Timeline:
    """The town's working time from now on: how much of it until an instant, and the
    instant at which some amount of it has passed (`WorkingCalendar.add`, by bisection)."""

    def __init__(self, calendar: WorkingCalendar, now: datetime) -> None:
        self.calendar, self.now = calendar, now
        self._zone = ZoneInfo(calendar.timezone)
        self._day = now.astimezone(self._zone).date()
        self._last = (now + HORIZON).astimezone(self._zone).date()
        self._starts: list[datetime] = []
        self._ends: list[datetime] = []
        self._done: list[timedelta] = []  # working time from now to each window's end

    def worked(self, instant: datetime) -> timedelta:
        """The working time from now to `instant`; zero before now."""
        if instant <= self.now:
            return timedelta(0)
        while (not self._ends or self._ends[-1] < instant) and self._next_window():
            pass
        index = bisect_right(self._starts, instant) - 1
        if index < 0:
            return timedelta(0)
        before = self._done[index] - (self._ends[index] - self._starts[index])
        return before + min(instant, self._ends[index]) - self._starts[index]

    def at(self, worked: timedelta) -> datetime | None:
        """The instant `worked` of working time from now is reached; None beyond ten years."""
        while (not self._done or self._done[-1] < worked) and self._next_window():
            pass
        if not self._done or self._done[-1] < worked:
            return None
        index = bisect_left(self._done, worked)
        return self._ends[index] - (self._done[index] - worked)

    def _next_window(self) -> bool:
        """Add the next opening window; False past the horizon."""
        calendar = self.calendar
        while self._day <= self._last:
            day, self._day = self._day, self._day + _DAY
            if not calendar.is_working_day(day):
                continue
            opening = datetime.combine(day, calendar.opens, self._zone).astimezone(UTC)
            closing = datetime.combine(day, calendar.closes, self._zone).astimezone(UTC)
            if closing <= self.now:
                continue
            opening = max(opening, self.now)
            total = self._done[-1] if self._done else timedelta(0)
            self._starts.append(opening)
            self._ends.append(closing)
            self._done.append(total + (closing - opening))
            return True
        return False
