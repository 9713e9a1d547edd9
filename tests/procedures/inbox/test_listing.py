"""The agent's inbox: tabs, filters, deadline order, pages, counts, and services kept apart."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from accounts.models import Role, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from coffre.vault import Vault
from procedures import catalogue, demandes, tasks
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.inbox.listing import TABS, InboxFilters, InboxPage, Tab, inbox
from procedures.models import Demande, DemandeStatus, ProcedureVersion, Task, TaskState
from procedures.tasks import AgentActor
from tests.factories import make_account, make_service
from tests.procedures.flows import open_task, submitted_creche

NO_FILTER = InboxFilters()
_numbers = itertools.count(1)


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    return make_service(db_session, code="petite-enfance")


@pytest.fixture
def creche(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> ProcedureVersion:
    definition, bpmn = catalogue.read_built_in("creche")
    version = catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    return version


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> AgentActor:
    account = make_account(db_session, clock, Role.AGENT, display_name="Camille Agent")
    return AgentActor(account.id, frozenset({petite_enfance.id}))


def add_task(
    session: Session,
    version: ProcedureVersion,
    foyer: Foyer,
    service: Service,
    created_at: datetime,
    *,
    due_at: datetime | None,
    state: TaskState = TaskState.OPEN,
    **fields: object,
) -> Task:
    """A demande and its one task, written directly: the inbox only reads these rows."""
    demande = Demande(
        number=f"2026-{next(_numbers):06d}",
        foyer_id=foyer.id,
        procedure_version_id=version.id,
        status=DemandeStatus.EN_INSTRUCTION,
        form_data="{}",
        created_at=created_at,
        updated_at=created_at,
    )
    session.add(demande)
    session.flush()
    task = Task(
        demande_id=demande.id,
        procedure_version_id=version.id,
        spiff_task_id="t",
        spec_id=str(fields.pop("spec_id", "verifier_dossier")),
        title="Vérifier la complétude du dossier",
        service_id=service.id,
        for_family=False,
        state=state,
        created_at=created_at,
        due_at=due_at,
        **fields,
    )
    session.add(task)
    session.commit()
    return task


def page_of(
    session: Session,
    agent: AgentActor,
    clock: FrozenClock,
    tab: Tab = "a_traiter",
    filters: InboxFilters = NO_FILTER,
    page: int = 1,
    per_page: int = 50,
) -> InboxPage:
    return inbox(session, agent, tab, filters, page, now=clock.now(), per_page=per_page)


def ids(page: InboxPage) -> list[int]:
    return [row.task_id for row in page.rows]


def test_a_demande_moves_through_the_tabs_as_it_is_worked(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    family_account = make_account(db_session, clock, Role.FAMILLE, foyer_id=foyer.id)
    family = FamilyActor(family_account.id, foyer.id)
    demande = submitted_creche(db_session, ctx, family, vault, foyer)
    task = open_task(db_session, demande)

    def tab_of_task() -> list[Tab]:
        return [tab for tab in TABS if task.id in ids(page_of(db_session, agent, clock, tab))]

    assert tab_of_task() == ["a_traiter"]
    tasks.claim(db_session, ctx, agent, task.id)
    assert tab_of_task() == ["mes_taches"]
    tasks.ask_family(db_session, ctx, agent, task.id, "Merci de fournir un RIB.", ["rib"])
    assert tab_of_task() == ["attente_famille"]
    demandes.answer(db_session, ctx, family, demande.id, "Voici.", [])
    tasks.complete(db_session, ctx, agent, task.id, {})
    assert tab_of_task() == ["terminees"]

    row = page_of(db_session, agent, clock, "terminees").rows[0]
    assert (row.demande_id, row.demande_number) == (demande.id, demande.number)
    assert row.procedure_title == "Pré-inscription en crèche"
    assert row.foyer_label == "Martin"
    assert row.step_title == "Vérifier la complétude du dossier"
    assert row.assignee_name == "Camille Agent"


def test_an_agent_never_sees_another_services_tasks(
    db_session: Session,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    other_service = make_service(db_session)
    now = clock.now()
    mine = add_task(db_session, creche, foyer, petite_enfance, now, due_at=now)
    add_task(db_session, creche, foyer, other_service, now, due_at=now)
    add_task(db_session, creche, foyer, other_service, now, due_at=now, state=TaskState.DONE)

    assert ids(page_of(db_session, agent, clock)) == [mine.id]
    assert page_of(db_session, agent, clock).counts == {
        "mes_taches": 0, "a_traiter": 1, "attente_famille": 0, "terminees": 0,
    }  # fmt: skip
    asked_for_other = InboxFilters(service_id=other_service.id)
    assert page_of(db_session, agent, clock, filters=asked_for_other).rows == []
    outsider = AgentActor(agent.account_id, frozenset())
    assert page_of(db_session, outsider, clock).total == 0


def test_tasks_are_sorted_by_deadline_then_id_without_deadline_last(
    db_session: Session,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    now = clock.now()

    def task(due_at: datetime | None) -> int:
        return add_task(db_session, creche, foyer, petite_enfance, now, due_at=due_at).id

    undated = task(None)
    late = task(now - timedelta(days=2))
    soon = task(now + timedelta(hours=2))
    soon_too = task(now + timedelta(hours=2))
    later = task(now + timedelta(days=3))

    assert ids(page_of(db_session, agent, clock)) == [late, soon, soon_too, later, undated]


def test_pages_split_the_sorted_tasks_and_count_them_all(
    db_session: Session,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    now = clock.now()
    made = [
        add_task(db_session, creche, foyer, petite_enfance, now, due_at=now + timedelta(hours=n)).id
        for n in range(7)
    ]

    pages = [page_of(db_session, agent, clock, page=n, per_page=3) for n in (1, 2, 3, 4)]

    assert [ids(page) for page in pages] == [made[0:3], made[3:6], made[6:7], []]
    assert {(page.total, page.pages) for page in pages} == {(7, 3)}
    with pytest.raises(ValueError, match="page"):
        page_of(db_session, agent, clock, page=0)


def test_pages_across_services_and_states_are_those_of_one_full_sort(
    db_session: Session,
    clock: FrozenClock,
    creche: ProcedureVersion,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    """A page is merged from one index range per (service, state): the same as sorting all."""
    scolaire = make_service(db_session)
    me = make_account(db_session, clock, Role.AGENT)
    colleague = make_account(db_session, clock, Role.AGENT)
    agent = AgentActor(me.id, frozenset({petite_enfance.id, scolaire.id}))
    now = clock.now()
    kinds = [(TaskState.OPEN, None), (TaskState.CLAIMED, colleague.id),
             (TaskState.CLAIMED, me.id)]  # fmt: skip
    made = []
    for n in range(23):
        state, assignee = kinds[n % 3]
        due = None if n % 5 == 0 else now + timedelta(hours=(n * 7) % 4)  # ties and no deadline
        service = petite_enfance if n % 2 else scolaire
        task = add_task(db_session, creche, foyer, service, now, due_at=due, state=state,
                        assignee_id=assignee)  # fmt: skip
        made.append(task)
    a_traiter = [task for task in made if task.assignee_id != me.id]
    expected = [task.id for task in sorted(a_traiter, key=lambda t: (t.due_at is None,
                t.due_at or now, t.id))]  # fmt: skip

    for per_page in (1, 4, 50):
        shown: list[int] = []
        for number in range(1, -(-len(expected) // per_page) + 2):
            shown += ids(page_of(db_session, agent, clock, "a_traiter", page=number,
                                 per_page=per_page))  # fmt: skip
        assert shown == expected, per_page


def test_counts_give_each_tab_of_the_agents_services_whatever_the_filters(
    db_session: Session,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    colleague = make_account(db_session, clock, Role.AGENT)
    now = clock.now()
    for state, assignee in [
        (TaskState.OPEN, None),
        (TaskState.OPEN, None),
        (TaskState.CLAIMED, agent.account_id),
        (TaskState.CLAIMED, colleague.id),
        (TaskState.WAITING_FAMILY, agent.account_id),
        (TaskState.DONE, colleague.id),
        (TaskState.CANCELLED, None),
    ]:
        add_task(
            db_session, creche, foyer, petite_enfance, now, due_at=now, state=state,
            assignee_id=assignee, paused_remaining_seconds=3600,
        )  # fmt: skip

    result = page_of(db_session, agent, clock, "a_traiter", InboxFilters(text="personne"))

    assert result.total == 0
    assert result.counts == {"mes_taches": 1, "a_traiter": 3, "attente_famille": 1, "terminees": 1}


def test_filters_by_procedure_service_creation_date_and_text(
    db_session: Session,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
    other_foyer: Foyer,
) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    renamed = dataclasses.replace(definition, code="halte_garderie", title="Halte-garderie")
    halte = catalogue.publish(db_session, clock, renamed, bpmn, None)
    second = make_service(db_session)
    both = AgentActor(agent.account_id, frozenset({petite_enfance.id, second.id}))
    now = clock.now()
    old = add_task(db_session, creche, foyer, petite_enfance, now - timedelta(days=10), due_at=now)
    nguyen = add_task(db_session, halte, other_foyer, petite_enfance, now, due_at=now)
    elsewhere = add_task(db_session, creche, foyer, second, now, due_at=now)

    def matching(**fields: object) -> set[int]:
        filters = InboxFilters(**fields)  # type: ignore[arg-type]
        return set(ids(page_of(db_session, both, clock, filters=filters)))

    assert matching() == {old.id, nguyen.id, elsewhere.id}
    assert matching(procedure="halte_garderie") == {nguyen.id}
    assert matching(service_id=second.id) == {elsewhere.id}
    assert matching(created_from=now - timedelta(days=1)) == {nguyen.id, elsewhere.id}
    assert matching(created_before=now - timedelta(days=1)) == {old.id}
    assert matching(text="nGuYe") == {nguyen.id}
    number = db_session.get_one(Demande, old.demande_id).number
    assert number is not None
    assert matching(text=f"  {number} ") == {old.id}
    assert matching(text="%") == set()  # a wildcard is searched as itself


def test_rows_show_the_working_time_left_and_its_colour(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    now = clock.now()  # Tuesday 1 September 2026, 10:00 in Paris
    calendar = ctx.calendar

    def due_in(hours: float) -> datetime:
        return calendar.add(now, timedelta(hours=hours))

    # Verifying a dossier is promised within 48 working hours.
    fresh = add_task(db_session, creche, foyer, petite_enfance, now, due_at=due_in(48))
    closing = add_task(db_session, creche, foyer, petite_enfance, now, due_at=due_in(12))
    missed = add_task(
        db_session, creche, foyer, petite_enfance, now, due_at=now - timedelta(hours=1)
    )
    undated = add_task(db_session, creche, foyer, petite_enfance, now, due_at=None)

    rows = {row.task_id: row for row in page_of(db_session, agent, clock).rows}

    assert (rows[fresh.id].left, rows[fresh.id].color) == (timedelta(hours=48), "vert")
    assert (rows[closing.id].left, rows[closing.id].color) == (timedelta(hours=12), "orange")
    assert (rows[missed.id].left, rows[missed.id].color) == (-timedelta(hours=1), "rouge")
    assert (rows[undated.id].left, rows[undated.id].color) == (None, None)


def test_colour_filter_keeps_exactly_the_rows_shown_in_that_colour(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    now = clock.now()
    for hours in (-30, -1, 0, 1, 6, 12, 13, 20, 47, 48):
        created = now - timedelta(days=3)
        ahead = timedelta(hours=hours)
        due = ctx.calendar.add(now, ahead) if hours >= 0 else now + ahead
        add_task(db_session, creche, foyer, petite_enfance, created, due_at=due)
        # Same deadline, but a step without a promised time: measured from its creation.
        add_task(
            db_session, creche, foyer, petite_enfance, created, due_at=due, spec_id="sans_delai"
        )
    add_task(db_session, creche, foyer, petite_enfance, now, due_at=None)
    shown = page_of(db_session, agent, clock, per_page=200).rows

    for color in ("vert", "orange", "rouge"):
        filtered = page_of(db_session, agent, clock, filters=InboxFilters(color=color))
        expected = [row.task_id for row in shown if row.color == color]
        assert ids(filtered) == expected and filtered.total == len(expected)
        assert expected, f"no {color} row: the case proves nothing"
    second = page_of(
        db_session, agent, clock, filters=InboxFilters(color="vert"), page=2, per_page=2
    )
    assert ids(second) == [row.task_id for row in shown if row.color == "vert"][2:4]


def test_waiting_and_finished_tasks_keep_the_colour_they_had(
    db_session: Session,
    ctx: EngineContext,
    clock: FrozenClock,
    creche: ProcedureVersion,
    agent: AgentActor,
    petite_enfance: Service,
    foyer: Foyer,
) -> None:
    now = clock.now()
    old_deadline = now - timedelta(days=20)
    waiting = add_task(
        db_session, creche, foyer, petite_enfance, now - timedelta(days=30),
        due_at=old_deadline, state=TaskState.WAITING_FAMILY, paused_remaining_seconds=40 * 3600,
    )  # fmt: skip
    on_time = add_task(
        db_session, creche, foyer, petite_enfance, now - timedelta(days=30), due_at=old_deadline,
        state=TaskState.DONE, completed_at=old_deadline - timedelta(hours=1),
    )  # fmt: skip
    too_late = add_task(
        db_session, creche, foyer, petite_enfance, now - timedelta(days=30), due_at=old_deadline,
        state=TaskState.DONE, completed_at=old_deadline + timedelta(hours=1),
    )  # fmt: skip

    waiting_row = page_of(db_session, agent, clock, "attente_famille").rows[0]
    finished = {
        row.task_id: row.color for row in page_of(db_session, agent, clock, "terminees").rows
    }

    assert (waiting_row.task_id, waiting_row.left) == (waiting.id, timedelta(hours=40))
    assert waiting_row.color == "vert"
    # Measured when completed: an hour before the deadline, in its last quarter.
    assert finished == {on_time.id: "orange", too_late.id: "rouge"}
    red = page_of(db_session, agent, clock, "terminees", InboxFilters(color="rouge"))
    assert ids(red) == [too_late.id]


def test_an_unknown_tab_is_refused(
    db_session: Session, clock: FrozenClock, agent: AgentActor
) -> None:
    with pytest.raises(ValueError, match="tab"):
        page_of(db_session, agent, clock, "corbeille")  # type: ignore[arg-type]
