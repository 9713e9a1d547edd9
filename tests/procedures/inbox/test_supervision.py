"""Supervision: handing tasks to agents of the service, and the service's dashboard figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import AgentService, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from coffre.vault import Vault
from procedures import demandes, tasks
from procedures.demandes import FamilyActor
from procedures.errors import NotAllowed, TaskConflict
from procedures.history import EngineContext
from procedures.inbox import supervision
from procedures.models import Demande, DemandeEvent, DemandeStatus, Task, TaskState
from procedures.tasks import AgentActor
from procedures.working_hours import WorkingCalendar
from tests.factories import make_account, make_service
from tests.procedures.flows import agent_of, open_task, publish, submitted_creche

CHECK = "Vérifier la complétude du dossier"
DECISION = "Décision de la commission"


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> None:
    publish(db_session, clock, "creche")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    actor = agent_of(db_session, clock, petite_enfance)
    db_session.add(AgentService(account_id=actor.account_id, service_id=petite_enfance.id))
    db_session.commit()
    return actor


def supervisor_of(session: Session, clock: FrozenClock, *services: Service) -> AgentActor:
    """An agent who supervises these services."""
    account = make_account(session, clock, Role.AGENT)
    for service in services:
        session.add(AgentService(account_id=account.id, service_id=service.id, is_supervisor=True))
    session.commit()
    return AgentActor(account.id, frozenset(service.id for service in services))


@pytest.fixture
def supervisor(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    return supervisor_of(db_session, clock, petite_enfance)


def paris(year: int, month: int, day: int, hour: int) -> datetime:
    """A wall-clock time in Paris, as a UTC instant."""
    return datetime(year, month, day, hour, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)


@pytest.mark.usefixtures("published")
def test_a_supervisor_assigns_open_tasks_to_an_agent_of_the_service(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    supervisor: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    first = open_task(db_session, submitted_creche(db_session, ctx, family, vault, foyer))
    second = open_task(db_session, submitted_creche(db_session, ctx, family, vault, foyer))

    supervision.assign(db_session, ctx, supervisor, [first.id, second.id], agent.account_id)

    for task in (first, second):
        db_session.refresh(task)
        assert (task.state, task.assignee_id) == (TaskState.CLAIMED, agent.account_id)
        demande = db_session.get_one(Demande, task.demande_id)
        assert demande.status is DemandeStatus.EN_INSTRUCTION
    noted = db_session.scalars(
        select(DemandeEvent).where(DemandeEvent.kind == "assigned", DemandeEvent.internal)
    ).all()
    assert sorted(event.task_id for event in noted) == sorted([first.id, second.id])
    assert {event.actor_id for event in noted} == {supervisor.account_id}


@pytest.mark.usefixtures("published")
def test_a_supervisor_takes_back_a_task_claimed_by_a_colleague(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    supervisor: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    task = open_task(db_session, submitted_creche(db_session, ctx, family, vault, foyer))
    tasks.claim(db_session, ctx, agent, task.id)

    supervision.assign(db_session, ctx, supervisor, [task.id], supervisor.account_id)

    db_session.refresh(task)
    assert task.assignee_id == supervisor.account_id


@pytest.mark.usefixtures("published")
def test_assigning_is_all_or_nothing(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    supervisor: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    stays_open = open_task(db_session, submitted_creche(db_session, ctx, family, vault, foyer))
    finished = open_task(db_session, submitted_creche(db_session, ctx, family, vault, foyer))
    tasks.claim(db_session, ctx, agent, finished.id)
    tasks.complete(db_session, ctx, agent, finished.id, {})
    outsider = make_account(db_session, clock, Role.AGENT)  # in no service of the tasks

    with pytest.raises(TaskConflict):
        supervision.assign(
            db_session, ctx, supervisor, [stays_open.id, finished.id], agent.account_id
        )
    with pytest.raises(NotAllowed):
        supervision.assign(db_session, ctx, supervisor, [stays_open.id], outsider.id)
    with pytest.raises(NotAllowed):
        supervision.assign(db_session, ctx, supervisor, [stays_open.id, 10**9], agent.account_id)

    db_session.refresh(stays_open)
    assert (stays_open.state, stays_open.assignee_id) == (TaskState.OPEN, None)


@pytest.mark.usefixtures("published")
def test_only_a_supervisor_of_each_tasks_service_may_assign(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    task = open_task(db_session, submitted_creche(db_session, ctx, family, vault, foyer))
    elsewhere = supervisor_of(db_session, clock, make_service(db_session))

    for actor in (agent, elsewhere):
        with pytest.raises(NotAllowed):
            supervision.assign(db_session, ctx, actor, [task.id], agent.account_id)
    db_session.refresh(task)
    assert task.state is TaskState.OPEN
    assert supervision.supervised_tasks(db_session, agent.account_id, [task.id]) == frozenset()
    assert supervision.supervised_tasks(db_session, elsewhere.account_id, [task.id]) == frozenset()


def run_scenario(
    session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> list[Demande]:
    """Three crèche demandes on Tuesday 1 September at 10:00 (Paris), two of them checked.

    The first waits on the family from Tuesday 12:00 to Wednesday 12:00 and is checked on
    Wednesday at 15:00: 5 working hours without the wait. The second is checked at 11:00
    (1 working hour). The third's check, due in 48 working hours (Tuesday 8 at 13:00),
    stays open. The clock ends on Wednesday 2 September at 15:00.
    """
    clock = ctx.clock
    assert isinstance(clock, FrozenClock) and clock.now() == paris(2026, 9, 1, 10)
    made = [submitted_creche(session, ctx, family, vault, foyer) for _ in range(3)]
    first, second = (open_task(session, demande) for demande in made[:2])
    tasks.claim(session, ctx, agent, first.id)
    tasks.claim(session, ctx, agent, second.id)
    clock.advance(timedelta(hours=1))
    tasks.complete(session, ctx, agent, second.id, {})
    clock.advance(timedelta(hours=1))
    tasks.ask_family(session, ctx, agent, first.id, "Merci d'envoyer le carnet.", [])
    clock.advance(timedelta(hours=24))
    demandes.answer(session, ctx, family, made[0].id, "Voici.", [])
    clock.advance(timedelta(hours=3))
    tasks.complete(session, ctx, agent, first.id, {})
    return made


@pytest.fixture
def scenario(
    db_session: Session,
    ctx: EngineContext,
    family: FamilyActor,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
    published: None,
) -> list[Demande]:
    return run_scenario(db_session, ctx, family, agent, vault, foyer)


def test_the_dashboard_counts_live_tasks_per_step_and_measures_processing_time(
    db_session: Session,
    clock: FrozenClock,
    supervisor: AgentActor,
    scenario: list[Demande],
) -> None:
    board = supervision.dashboard(db_session, supervisor.account_id, clock.now(), weeks=2)

    loads = [
        (s.procedure_title, s.step_title, s.open, s.claimed, s.waiting_family) for s in board.steps
    ]
    assert loads == [
        ("Pré-inscription en crèche", DECISION, 2, 0, 0),
        ("Pré-inscription en crèche", CHECK, 1, 0, 0),
    ]  # fmt: skip
    assert board.processed == 2
    assert board.median_processing == timedelta(hours=3)  # the median of 1 h and 5 h
    assert board.since == paris(2026, 8, 24, 0)
    assert [(week.monday, week.demandes) for week in board.weeks] == [
        (date(2026, 8, 24), 0),
        (date(2026, 8, 31), 3),
    ]


def test_each_check_s_working_time_is_stored_when_done_and_the_dashboard_reads_it(
    db_session: Session,
    clock: FrozenClock,
    supervisor: AgentActor,
    scenario: list[Demande],
) -> None:
    done = db_session.scalars(
        select(Task).where(Task.state == TaskState.DONE).order_by(Task.completed_at)
    ).all()

    # 1 working hour; 5 for the one that waited a day on the family (the wait left out).
    assert [task.worked_seconds for task in done] == [3600, 5 * 3600]
    # A task completed before the time was stored is measured as before: same median.
    done[0].worked_seconds = None
    db_session.commit()
    legacy = supervision.dashboard(db_session, supervisor.account_id, clock.now(), weeks=2)
    assert (legacy.processed, legacy.median_processing) == (2, timedelta(hours=3))
    # The stored figure is the one read (not measured again).
    done[0].worked_seconds = 7 * 3600
    db_session.commit()
    board = supervision.dashboard(db_session, supervisor.account_id, clock.now(), weeks=2)
    assert board.median_processing == timedelta(hours=6)


def board_at(
    session: Session, clock: FrozenClock, supervisor: AgentActor, when: datetime
) -> supervision.Dashboard:
    clock.current = when
    return supervision.dashboard(session, supervisor.account_id, clock.now())


def watched(tasks: list[supervision.WatchedTask]) -> list[tuple[int, timedelta, str]]:
    return [(task.task_id, task.left, task.color) for task in tasks]


def test_the_dashboard_lists_soon_late_then_late_tasks(
    db_session: Session,
    clock: FrozenClock,
    supervisor: AgentActor,
    scenario: list[Demande],
) -> None:
    still_open = open_task(db_session, scenario[2])

    # Monday 12:00: 38 of its 48 working hours used, past 75 %.
    board = board_at(db_session, clock, supervisor, paris(2026, 9, 7, 12))
    assert board.late == []
    assert watched(board.soon_late) == [(still_open.id, timedelta(hours=10), "orange")]

    # Tuesday 14:00: due at 13:00.
    board = board_at(db_session, clock, supervisor, paris(2026, 9, 8, 14))
    assert watched(board.late) == [(still_open.id, timedelta(hours=-1), "rouge")]
    assert board.late[0].demande_number == scenario[2].number
    assert board.late[0].step_title == CHECK
    assert (board.late_count, board.soon_late_count) == (1, 0)
    # Listed up to `shown`, always counted in full.
    listed = supervision.dashboard(
        db_session, supervisor.account_id, paris(2026, 9, 8, 14), weeks=2, shown=0
    )
    assert (listed.late, listed.late_count) == ([], 1)


def test_the_dashboard_reads_no_task_far_from_its_deadline_and_misses_none_near_it(
    db_session: Session,
    clock: FrozenClock,
    supervisor: AgentActor,
    scenario: list[Demande],
) -> None:
    """The check promises 48 working hours: orange from 12 h left, green above."""
    still_open = open_task(db_session, scenario[2])
    assert still_open.due_at is not None
    calendar = WorkingCalendar()
    twelve_left = paris(2026, 9, 7, 10)
    assert calendar.working_time_between(twelve_left, still_open.due_at) == timedelta(hours=12)

    board = board_at(db_session, clock, supervisor, twelve_left)
    assert watched(board.soon_late) == [(still_open.id, timedelta(hours=12), "orange")]

    board = board_at(db_session, clock, supervisor, twelve_left - timedelta(seconds=1))
    assert board.soon_late == [] and board.late == []


def test_the_dashboard_covers_only_the_supervised_services(
    db_session: Session,
    clock: FrozenClock,
    agent: AgentActor,
    petite_enfance: Service,
    scenario: list[Demande],
) -> None:
    other = make_service(db_session)
    elsewhere = supervisor_of(db_session, clock, other)

    board = supervision.dashboard(db_session, elsewhere.account_id, clock.now())

    assert (board.steps, board.late, board.soon_late, board.processed) == ([], [], [], 0)
    assert board.median_processing is None
    assert [week.demandes for week in board.weeks] == [0] * 8
    with pytest.raises(NotAllowed):
        supervision.dashboard(db_session, agent.account_id, clock.now())
    with pytest.raises(NotAllowed):
        supervision.dashboard(
            db_session, elsewhere.account_id, clock.now(), service_id=petite_enfance.id
        )


def test_assignable_agents_are_the_active_agents_of_the_services(
    db_session: Session,
    clock: FrozenClock,
    agent: AgentActor,
    supervisor: AgentActor,
    petite_enfance: Service,
) -> None:
    make_account(db_session, clock, Role.AGENT)  # in no service

    found = supervision.assignable_agents(db_session, {petite_enfance.id})

    assert {choice.account_id for choice in found} == {agent.account_id, supervisor.account_id}
    assert all(choice.service_ids == {petite_enfance.id} for choice in found)
