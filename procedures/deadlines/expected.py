"""When a step is expected to be done, as the family reads it: a date, and for a service's
step the working days it was given (the town's opening days, `working_hours`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from procedures.deadlines.escalation import TimedTask
from procedures.models import TaskState
from procedures.working_hours import WorkingCalendar


@dataclass(frozen=True)
class Expected:
    """The step's deadline: its local date, and its allowance in working days (None for a
    family's step, whose limit is in calendar days)."""

    on: date
    working_days: int | None
    paused: bool  # the step waits on the family: its clock is stopped until they answer


def expected(
    task: TimedTask,
    calendar: WorkingCalendar,
    *,
    for_family: bool,
    allowed: timedelta | None = None,
) -> Expected | None:
    """The deadline of a task, or None when it has none.

    `allowed`: the step's promised working time (the procedure's `sla_hours`) when known;
    otherwise the working time from the task's creation to its deadline stands in.
    """
    if task.due_at is None:
        return None
    on = task.due_at.astimezone(ZoneInfo(calendar.timezone)).date()
    if for_family:
        return Expected(on, None, paused=False)
    if allowed is None:
        allowed = calendar.working_time_between(task.created_at, task.due_at)
    days = max(1, math.ceil(allowed / calendar.working_day))
    return Expected(on, days, paused=task.state is TaskState.WAITING_FAMILY)
