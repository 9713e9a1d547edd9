"""Deadlines of the services' tasks: SLA colours, escalation to supervisors, two workers at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from accounts.models import Account, AgentService, Role, Service
from coffre.clock import FrozenClock
from coffre.db import make_engine, make_session_factory
from coffre.models import Foyer
from coffre.vault import Vault
from notifications.models import OutboxMessage
from procedures import catalogue, demandes, tasks
from procedures.deadlines.escalation import WorkingTimeline, fire_escalations, sla_state
from procedures.demandes import FamilyActor
from procedures.errors import TaskConflict
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus, Task, TaskState
from procedures.tasks import AgentActor
from procedures.working_hours import WorkingCalendar
from tests.coffre.conftest import make_foyer
from tests.conftest import PostgresServer, require
from tests.factories import make_account, make_service
from tests.procedures.flows import creche_form, creche_papers, open_task, submitted_creche, work
from web import schema


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    return make_service(db_session, code="petite-enfance")


@pytest.fixture
def published(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()


@pytest.fixture
def family(db_session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    account = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    return FamilyActor(account.id, foyer.id)


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    account = make_account(db_session, clock, Role.AGENT)
    db_session.add(AgentService(account_id=account.id, service_id=petite_enfance.id))
    db_session.commit()
    return AgentActor(account.id, frozenset({petite_enfance.id}))


def add_supervisor(session: Session, clock: FrozenClock, service: Service) -> Account:
    account = make_account(session, clock, Role.AGENT)
    session.add(AgentService(account_id=account.id, service_id=service.id, is_supervisor=True))
    session.commit()
    return account


def escalade_recipients(session: Session) -> list[str]:
    query = select(OutboxMessage.recipient).where(OutboxMessage.template == "escalade")
    return sorted(session.scalars(query))


def events(session: Session, kind: str) -> list[DemandeEvent]:
    return list(session.scalars(select(DemandeEvent).where(DemandeEvent.kind == kind)))


@pytest.mark.usefixtures("published")
def test_a_late_task_escalates_once_to_the_supervisors_of_its_service_only(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    petite_enfance: Service,
    vault: Vault,
    foyer: Foyer,
) -> None:
    chief = add_supervisor(db_session, clock, petite_enfance)
    deputy = add_supervisor(db_session, clock, petite_enfance)
    add_supervisor(db_session, clock, make_service(db_session))  # another service's
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    assert task.due_at is not None

    clock.current = task.due_at
    assert fire_escalations(db_session, ctx) == 0  # due now is not late yet
    clock.advance(timedelta(minutes=1))
    assert fire_escalations(db_session, ctx) == 1
    assert fire_escalations(db_session, ctx) == 0

    assert task.escalated_at == clock.now()
    [escalated] = events(db_session, "escalated")
    assert (escalated.demande_id, escalated.task_id, escalated.internal) == (
        demande.id, task.id, True,
    )  # fmt: skip
    assert escalade_recipients(db_session) == sorted([chief.email, deputy.email])
    message = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == chief.email)
    ).one()
    assert message.idempotency_key == f"escalade:{task.id}:{chief.id}"
    assert '"echeance": "8 septembre 2026 à 13 h 00"' in message.context
    assert f"/agent/demandes/{demande.id}" in message.context


@pytest.mark.usefixtures("published")
def test_a_task_waiting_on_the_family_does_not_escalate(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    petite_enfance: Service,
    vault: Vault,
    foyer: Foyer,
) -> None:
    add_supervisor(db_session, clock, petite_enfance)
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)
    tasks.claim(db_session, ctx, agent, task.id)
    clock.advance(timedelta(hours=24))  # Wednesday 10:00 in Paris: 9 working hours used
    tasks.ask_family(db_session, ctx, agent, task.id, "Merci de fournir un RIB.", ["rib"])

    clock.advance(timedelta(days=30))
    assert fire_escalations(db_session, ctx) == 0
    assert sla_state(task, clock.now(), ctx.calendar) == (timedelta(hours=39), "vert")

    demandes.answer(db_session, ctx, family, demande.id, "Voici le RIB.", [])
    assert fire_escalations(db_session, ctx) == 0
    assert task.due_at is not None
    clock.current = task.due_at + timedelta(minutes=1)
    assert fire_escalations(db_session, ctx) == 1
    assert escalade_recipients(db_session) != []


@pytest.mark.usefixtures("published")
def test_family_tasks_and_finished_tasks_never_escalate(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    family: FamilyActor,
    agent: AgentActor,
    petite_enfance: Service,
    vault: Vault,
    foyer: Foyer,
) -> None:
    add_supervisor(db_session, clock, petite_enfance)
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    work(db_session, ctx, agent, demande, {})
    work(db_session, ctx, agent, demande, {"decision": "place"})
    offer = open_task(db_session, demande)
    assert offer.for_family and offer.due_at is not None

    clock.current = offer.due_at - timedelta(minutes=1)  # days past every agent's deadline
    assert fire_escalations(db_session, ctx) == 0
    assert escalade_recipients(db_session) == []


def test_the_deadline_turns_orange_in_its_last_quarter_then_red_once_passed() -> None:
    calendar = WorkingCalendar()
    created = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)  # Tuesday, 10:00 in Paris
    task = Task(
        state=TaskState.OPEN,
        created_at=created,
        due_at=calendar.add(created, timedelta(hours=48)),
        paused_remaining_seconds=None,
        completed_at=None,
    )

    def at(working_hours: float) -> tuple[timedelta, str] | None:
        return sla_state(task, calendar.add(created, timedelta(hours=working_hours)), calendar)

    assert at(0) == (timedelta(hours=48), "vert")
    assert at(35.9) == (timedelta(hours=12.1), "vert")
    assert at(36) == (timedelta(hours=12), "orange")
    assert at(48) == (timedelta(0), "orange")
    assert at(49) == (-timedelta(hours=1), "rouge")


_instants = st.datetimes(
    min_value=datetime(2026, 3, 1), max_value=datetime(2027, 1, 31), timezones=st.just(UTC)
)


@given(_instants, _instants)
def test_a_timeline_measures_working_time_as_the_calendar_does(
    first: datetime, second: datetime
) -> None:
    calendar = WorkingCalendar(subdivision="67")
    timeline = WorkingTimeline(
        calendar, datetime(2026, 3, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)
    )

    assert timeline.between(first, second) == calendar.working_time_between(first, second)


# Two workers on one PostgreSQL database -------------------------------------------------

LATE_DEMANDES = 12
OFFERED_PLACES = 8
MAX_ROUNDS = 20


@dataclass
class Scene:
    url: str
    late_tasks: list[int]
    offers: list[int]
    supervisors: list[Account]


@pytest.fixture
def scratch_url(postgres: PostgresServer | None) -> str:
    """A database of its own, really committed to: the workers need separate connections."""
    if postgres is None:
        require("PostgreSQL is unreachable: two workers need row locks")
    assert postgres is not None
    return postgres.create_database()


@pytest.fixture
def scene(scratch_url: str, clock: FrozenClock, vault: Vault) -> Iterator[Scene]:
    engine = make_engine(scratch_url)
    schema.upgrade(engine)
    with make_session_factory(engine)() as session:
        yield _build_scene(session, clock, vault, scratch_url)
    engine.dispose()


def _build_scene(session: Session, clock: FrozenClock, vault: Vault, url: str) -> Scene:
    ctx = EngineContext(clock=clock)
    service = make_service(session, code="petite-enfance")
    definition, bpmn = catalogue.read_built_in("creche")
    catalogue.publish(session, clock, definition, bpmn, None)
    session.commit()
    supervisors = [add_supervisor(session, clock, service) for _ in range(2)]
    agent = AgentActor(make_account(session, clock, Role.AGENT).id, frozenset({service.id}))
    foyer = make_foyer(session, clock, "Martin")
    family = FamilyActor(make_account(session, clock, Role.FAMILLE, foyer_id=foyer.id).id, foyer.id)
    documents = [document.id for document in creche_papers(vault, session, foyer)]

    def demande() -> Demande:
        draft = demandes.create_draft(session, ctx, family, "creche")
        return demandes.submit(session, ctx, family, draft.id, creche_form(foyer), documents)

    late = [open_task(session, demande()).id for _ in range(LATE_DEMANDES)]
    offers = []
    for _ in range(OFFERED_PLACES):
        offered = demande()
        work(session, ctx, agent, offered, {})
        work(session, ctx, agent, offered, {"decision": "place"})
        offers.append(open_task(session, offered).id)
    clock.advance(timedelta(days=9))  # past every deadline and every offer's 8 days
    return Scene(url, late, offers, supervisors)


def _worker(url: str, ctx: EngineContext, start: threading.Barrier, tally: Counter[str]) -> None:
    """One worker process's turns: a fresh session per job, as `Worker._run_job` gives them."""
    engine: Engine = make_engine(url)
    sessions: sessionmaker[Session] = make_session_factory(engine)
    try:
        start.wait()
        for _ in range(MAX_ROUNDS):
            with sessions() as session:
                escalated = fire_escalations(session, ctx, batch=3)
            with sessions() as session:
                try:
                    fired = tasks.fire_timeouts(session, ctx)
                except (TaskConflict, StaleDataError, OperationalError) as exc:
                    # One task per transaction: neither worker may trip on the other.
                    session.rollback()
                    tally[f"timeouts failed: {type(exc).__name__}"] += 1
                    fired = -1
            tally["escalated"] += escalated
            if escalated == fired == 0:
                return
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_two_workers_fire_each_timer_exactly_once(scene: Scene, clock: FrozenClock) -> None:
    ctx = EngineContext(clock=clock)
    start = threading.Barrier(2)
    tallies: list[Counter[str]] = [Counter(), Counter()]
    threads = [
        threading.Thread(target=_worker, args=(scene.url, ctx, start, tally)) for tally in tallies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    failures = [key for tally in tallies for key in tally if key.startswith("timeouts failed")]
    assert failures == [], tallies
    assert tallies[0]["escalated"] + tallies[1]["escalated"] == LATE_DEMANDES, tallies
    engine = make_engine(scene.url)
    with make_session_factory(engine)() as session:
        _assert_each_once(session, scene)
    engine.dispose()


def _assert_each_once(session: Session, scene: Scene) -> None:
    def per_task(kind: str) -> Counter[int | None]:
        query = select(DemandeEvent.task_id).where(DemandeEvent.kind == kind)
        return Counter(session.scalars(query))

    assert per_task("escalated") == Counter(scene.late_tasks)
    assert per_task("timeout") == Counter(scene.offers)
    keys = session.scalars(
        select(OutboxMessage.idempotency_key).where(OutboxMessage.template == "escalade")
    ).all()
    expected = {f"escalade:{t}:{s.id}" for t in scene.late_tasks for s in scene.supervisors}
    assert sorted(keys) == sorted(expected)
    escalated = session.scalars(select(Task).where(Task.id.in_(scene.late_tasks))).all()
    assert all(task.escalated_at is not None for task in escalated)
    statuses = session.scalars(
        select(func.count()).select_from(Demande).where(Demande.status == DemandeStatus.CLASSEE)
    ).one()
    assert statuses == OFFERED_PLACES
