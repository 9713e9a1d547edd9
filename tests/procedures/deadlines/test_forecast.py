"""The forecast of late tasks, on a generated history whose answer is known.

The service completed exactly 2 checks per working hour over the four weeks before Monday
1 March 2027, 08:30 (Paris): 360 checks in 20 working days of 9 hours, February having no
public holiday. So the k-th check of its queue is done k half-hours of working time from
then: the 18th at 17:30 that Monday, the 19th at 09:00 on Tuesday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from procedures.deadlines.forecast import Forecast, Pace, Step, forecast
from procedures.models import Demande, DemandeStatus, ProcedureVersion, Task, TaskState
from procedures.working_hours import WorkingCalendar
from tests.factories import make_foyer, make_service
from tests.procedures.flows import publish

CHECK = "verifier_dossier"
DECISION = "decision_commission"
_ids = count(1)


def paris(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time of 2027 in Paris, as a UTC instant."""
    return datetime(2027, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)


NOW = paris(3, 1, 8, 30)


class History:
    """Tasks written straight into the tables, as months of a service's work leave them."""

    def __init__(self, session: Session, service: Service) -> None:
        self.session, self.service = session, service
        self.version = session.scalars(
            select(ProcedureVersion).where(ProcedureVersion.code == "creche")
        ).one()
        foyer = make_foyer(session, FrozenClock(NOW))
        demande = Demande(
            foyer_id=foyer.id,
            procedure_version_id=self.version.id,
            status=DemandeStatus.EN_INSTRUCTION,
            form_data="{}",
            created_at=NOW - timedelta(weeks=8),
            updated_at=NOW,
            submitted_at=NOW - timedelta(weeks=8),
        )
        session.add(demande)
        session.flush()
        self.demande_id = demande.id

    def completed(self, number: int, first: datetime, last: datetime, spec_id: str = CHECK) -> None:
        """`number` tasks of the step completed evenly from `first` to `last`."""
        step = (last - first) / max(number - 1, 1)
        self._insert(
            [
                self._row(spec_id, TaskState.DONE, None, completed_at=first + step * n)
                for n in range(number)
            ]
        )

    def queued(
        self,
        due_at: datetime | None,
        spec_id: str = CHECK,
        state: TaskState = TaskState.OPEN,
        service_id: int | None = None,
    ) -> int:
        row = self._row(spec_id, state, due_at, service_id=service_id)
        self._insert([row])
        return int(row["id"])

    def _row(
        self, spec_id: str, state: TaskState, due_at: datetime | None, **more: object
    ) -> dict[str, object]:
        task_id = next(_ids) + 10_000
        values: dict[str, object] = {
            "id": task_id,
            "demande_id": self.demande_id,
            "procedure_version_id": self.version.id,
            "spiff_task_id": f"t{task_id}",
            "spec_id": spec_id,
            "title": spec_id,
            "lane": "Accueil petite enfance",
            "service_id": self.service.id,
            "for_family": False,
            "state": state,
            "created_at": NOW - timedelta(weeks=6),
            "due_at": due_at,
            "row_version": 1,
        }
        values.update({key: value for key, value in more.items() if value is not None})
        return values

    def _insert(self, rows: list[dict[str, object]]) -> None:
        self.session.execute(insert(Task), rows)
        self.session.flush()


@pytest.fixture
def history(db_session: Session) -> History:
    service = make_service(db_session, code="petite-enfance")
    publish(db_session, FrozenClock(NOW - timedelta(weeks=10)), "creche")
    made = History(db_session, service)
    # Two checks per working hour over the four weeks; before them, and of another step,
    # completions that must not count.
    made.completed(360, paris(2, 1, 9), paris(2, 26, 17))
    made.completed(500, paris(1, 4, 9), paris(1, 29, 17))
    made.completed(3, paris(2, 10, 9), paris(2, 12, 9), spec_id="accepter_place")
    return made


def seen(result: Forecast) -> list[tuple[int, datetime, datetime | None]]:
    return [(task.task_id, task.due_at, task.finish_at) for task in result.late]


def test_the_checks_past_their_deadline_at_the_service_s_pace_are_forecast_late(
    db_session: Session, history: History
) -> None:
    already_late = history.queued(paris(2, 26, 16))  # worked first: it is done at 09:00
    on_time_exactly = history.queued(paris(3, 1, 9, 30))  # 2nd: done at 09:30
    late_by_a_quarter = history.queued(paris(3, 1, 9, 45))  # 3rd: done at 10:00
    history.queued(paris(3, 1, 12))  # 4th: done at 10:30
    closing = [history.queued(paris(3, 1, 17, 30)) for _ in range(15)]  # 5th to 19th
    next_morning = history.queued(paris(3, 2, 9))  # 20th: done at 09:30 on Tuesday
    history.queued(paris(3, 3, 12))  # 21st: done at 10:00 on Tuesday, on time
    no_pace = history.queued(paris(3, 8, 12), spec_id=DECISION)  # nothing decided in 4 weeks
    # Not in the queue: waiting on the family, without deadline, of another service.
    history.queued(paris(3, 1, 9), state=TaskState.WAITING_FAMILY)
    history.queued(None)
    other = make_service(db_session)
    history.queued(paris(3, 1, 9), service_id=other.id)

    result = forecast(db_session, frozenset({history.service.id}), NOW)

    assert result.paces[Step(history.service.id, "creche", CHECK)] == Pace(
        360, timedelta(hours=180)
    )
    assert result.paces[Step(history.service.id, "creche", CHECK)].per_hour == 2.0
    assert Step(history.service.id, "creche", DECISION) not in result.paces
    # The 18th is done at 17:30 exactly, its deadline: on time; the 19th the next morning.
    assert seen(result) == [
        (late_by_a_quarter, paris(3, 1, 9, 45), paris(3, 1, 10)),
        (closing[-1], paris(3, 1, 17, 30), paris(3, 2, 9)),
        (next_morning, paris(3, 2, 9), paris(3, 2, 9, 30)),
        (no_pace, paris(3, 8, 12), None),
    ]
    assert result.count == 4
    assert already_late not in {task.task_id for task in result.late}
    assert on_time_exactly not in {task.task_id for task in result.late}


def test_whole_days_of_late_tasks_are_counted_and_the_first_listed(
    db_session: Session, history: History
) -> None:
    """200 checks due Tuesday at 12:00: 12 h 30 of work until then, room for 25 of them.
    10 more due on Wednesday at 10:00, far behind: late without being read one by one."""
    tuesday = [history.queued(paris(3, 2, 12)) for _ in range(200)]
    wednesday = [history.queued(paris(3, 3, 10)) for _ in range(10)]
    calendar = WorkingCalendar()

    first = forecast(db_session, frozenset({history.service.id}), NOW, shown=5)

    assert first.count == 175 + 10
    assert [task.task_id for task in first.late] == tuesday[25:30]
    assert [task.finish_at for task in first.late] == [
        paris(3, 2, 12, 30), paris(3, 2, 13), paris(3, 2, 13, 30), paris(3, 2, 14),
        paris(3, 2, 14, 30),
    ]  # fmt: skip
    every = forecast(db_session, frozenset({history.service.id}), NOW, shown=1000)
    assert [task.task_id for task in every.late] == tuesday[25:] + wednesday
    for rank, task in enumerate(every.late, start=26):
        assert task.finish_at == calendar.add(NOW, timedelta(minutes=30 * rank))
    assert every.count == first.count


def test_the_verdict_on_tasks_of_a_page_whatever_their_rank(
    db_session: Session, history: History
) -> None:
    queue = [history.queued(paris(3, 2, 12)) for _ in range(30)]
    far = history.queued(paris(3, 10, 12))

    result = forecast(
        db_session, frozenset({history.service.id}), NOW, shown=0, tasks=[queue[0], queue[29], far]
    )

    assert result.late == []
    assert result.count == 5  # ranks 26 to 30
    assert list(result.asked) == [queue[29]]
    assert result.asked[queue[29]].finish_at == paris(3, 2, 14, 30)


def test_a_service_that_keeps_up_has_nothing_forecast_late(
    db_session: Session, history: History
) -> None:
    for day in range(1, 6):
        for _ in range(17):  # under 18 a day: the pace clears each day's checks that day
            history.queued(paris(3, day, 17, 30))

    result = forecast(db_session, frozenset({history.service.id}), NOW, tasks=[1])

    assert (result.late, result.count, result.asked) == ([], 0, {})
