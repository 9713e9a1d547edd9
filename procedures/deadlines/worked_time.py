"""A service task's working time: from its creation to its completion in the town's working
hours, without the time the demande waited on the family.

Stored on the task when it is completed (`Task.worked_seconds`), so that supervision reads
it instead of measuring every completed task of its window again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from procedures.models import DemandeEvent, Task
from procedures.working_hours import WorkingCalendar

Between = Callable[[datetime, datetime], timedelta]
Waits = dict[int, list[tuple[datetime, datetime | None]]]


def family_waits(session: Session, demande_ids: Any) -> Waits:
    """Per task, each (asked the family, family answered) interval; None while unanswered.

    `demande_ids`: the demandes to read (a list, or a select of ids).
    """
    query = (
        select(DemandeEvent.demande_id, DemandeEvent.kind, DemandeEvent.at, DemandeEvent.task_id)
        .where(
            DemandeEvent.demande_id.in_(demande_ids),
            DemandeEvent.kind.in_(("asked_family", "family_answered")),
        )
        .order_by(DemandeEvent.demande_id, DemandeEvent.at, DemandeEvent.id)
    )
    waits: Waits = defaultdict(list)
    pending: dict[int, int] = {}  # demande -> the task whose family wait is open
    for demande_id, kind, at, task_id in session.execute(query):
        if kind == "asked_family" and task_id is not None:
            waits[task_id].append((at, None))
            pending[demande_id] = task_id
        elif kind == "family_answered" and demande_id in pending:
            asking = pending.pop(demande_id)
            waits[asking][-1] = (waits[asking][-1][0], at)
    return waits


def worked(
    created_at: datetime,
    completed_at: datetime,
    waits: list[tuple[datetime, datetime | None]],
    between: Between,
) -> timedelta:
    """The working time between creation and completion, less the family's waits."""
    total = between(created_at, completed_at)
    for asked, answered in waits:
        begin = max(asked, created_at)
        total -= between(begin, min(answered or completed_at, completed_at))
    return max(total, timedelta(0))


def store_worked_time(
    session: Session, calendar: WorkingCalendar, task: Task, completed_at: datetime
) -> None:
    """Set the task's `worked_seconds` as it is completed (a service's task only)."""
    if task.service_id is None:
        return
    waits = family_waits(session, [task.demande_id]).get(task.id, [])
    took = worked(task.created_at, completed_at, waits, calendar.working_time_between)
    task.worked_seconds = int(took.total_seconds())
