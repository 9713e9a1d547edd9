"""The inbox pages: tabs, filters in the address, pages, claim, assignment, saved filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from procedures import catalogue, tasks
from procedures.history import EngineContext
from procedures.inbox.listing import COUNT_CAP
from procedures.models import Demande, ProcedureVersion, SavedFilter, Task, TaskState
from procedures.tasks import AgentActor
from tests.factories import (
    make_account,
    make_agent,
    make_foyer,
    make_service,
    make_supervisor,
    page_text,
)
from tests.procedures.inbox.test_listing import add_task
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in

INBOX = "/agent/taches"


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    service = make_service(db_session, code="petite-enfance")
    service.name = "Petite enfance"
    db_session.commit()
    return service


@pytest.fixture
def creche(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> ProcedureVersion:
    definition, bpmn = catalogue.read_built_in("creche")
    version = catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    return version


@pytest.fixture
def martin(db_session: Session, clock: FrozenClock) -> Foyer:
    return make_foyer(db_session, clock, "Martin")


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> Account:
    return make_agent(db_session, clock, petite_enfance)


@pytest.fixture
def supervisor(db_session: Session, clock: FrozenClock, petite_enfance: Service) -> Account:
    return make_supervisor(db_session, clock, petite_enfance, display_name="Sophie Superviseure")


@dataclass(frozen=True)
class NewTask:
    """Adds a crèche task (by default the Martin foyer's, in Petite enfance), due `due_in`
    from now (None: no deadline), created `age` ago."""

    session: Session
    clock: FrozenClock
    version: ProcedureVersion
    service: Service
    foyer: Foyer

    def __call__(
        self,
        due_in: timedelta | None,
        *,
        foyer: Foyer | None = None,
        service: Service | None = None,
        age: timedelta = timedelta(0),
        state: TaskState = TaskState.OPEN,
    ) -> Task:
        now = self.clock.now()
        return add_task(
            self.session, self.version, foyer or self.foyer, service or self.service, now - age,
            due_at=None if due_in is None else now + due_in, state=state,
        )  # fmt: skip


@pytest.fixture
def new_task(
    db_session: Session,
    clock: FrozenClock,
    creche: ProcedureVersion,
    petite_enfance: Service,
    martin: Foyer,
) -> NewTask:
    return NewTask(db_session, clock, creche, petite_enfance, martin)


def signed_in(client: FlaskClient, account: Account) -> FlaskClient:
    assert sign_in_agent(client, account).status_code == 302
    return client


@pytest.fixture
def agent_client(client: FlaskClient, agent: Account) -> FlaskClient:
    return signed_in(client, agent)


@pytest.fixture
def supervisor_client(client: FlaskClient, supervisor: Account) -> FlaskClient:
    return signed_in(client, supervisor)


def number_of(session: Session, task: Task) -> str:
    number = session.get_one(Demande, task.demande_id).number
    assert number is not None
    return number


def numbers(session: Session, *tasks: Task) -> set[str]:
    return {number_of(session, task) for task in tasks}


def post(client: FlaskClient, path: str, data: dict[str, object]) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_token(client, INBOX), **data})


def save_filter(client: FlaskClient, name: str, query: str) -> TestResponse:
    return post(client, "/agent/taches/filtres", {"nom": name, "requete": query})


def delete_filter(client: FlaskClient, filter_id: int) -> TestResponse:
    return post(client, f"/agent/taches/filtres/{filter_id}/supprimer", {})


def switch_to(client: FlaskClient, account: Account) -> None:
    """Sign out, then in as another agent."""
    post(client, "/deconnexion", {})
    signed_in(client, account)


def assign(client: FlaskClient, tasks: list[Task], agent: Account | None = None) -> TestResponse:
    """The inbox's assignment form: the tasks to `agent`, or taken by oneself without one."""
    data: dict[str, object] = {"taches": [task.id for task in tasks]}
    if agent is None:
        data["action"] = "prendre"
    else:
        data.update(action="attribuer", agent=agent.id)
    return post(client, "/agent/taches/attribution", data)


def flashed(client: FlaskClient, response: TestResponse) -> str:
    """The page the redirect leads to, with its flash message."""
    assert response.status_code == 302
    return page_text(client.get(response.headers["Location"]))


def test_an_agent_sees_only_its_services_tasks_with_counts(
    agent_client: FlaskClient, db_session: Session, new_task: NewTask
) -> None:
    mine = new_task(timedelta(1))
    theirs = new_task(timedelta(0), service=make_service(db_session))
    new_task(None, state=TaskState.DONE)

    page = page_text(agent_client.get(INBOX))

    assert number_of(db_session, mine) in page
    assert number_of(db_session, theirs) not in page
    assert f'href="/agent/demandes/{mine.demande_id}"' in page
    assert "Martin" in page and "Vérifier la complétude du dossier" in page
    assert re.search(r"À traiter\s*(&nbsp;|\xa0)?\s*<span[^>]*>1</span>", page)
    assert re.search(r"Terminées\s*(&nbsp;|\xa0)?\s*<span[^>]*>1</span>", page)
    assert "Dans les délais" in page and "restantes" in page  # text beside the colour


def test_a_tab_stops_counting_past_a_thousand(
    agent_client: FlaskClient, db_session: Session, new_task: NewTask, clock: FrozenClock
) -> None:
    done = new_task(None, state=TaskState.DONE)
    row = {column: getattr(done, column) for column in
           ("demande_id", "procedure_version_id", "spiff_task_id", "spec_id", "title",
            "service_id", "for_family", "state", "created_at")}  # fmt: skip
    db_session.execute(insert(Task), [row] * COUNT_CAP)  # 1,001 completed tasks in all
    for _ in range(3):
        new_task(timedelta(1))

    page = page_text(agent_client.get(INBOX))
    finished = page_text(agent_client.get(INBOX + "?onglet=terminees"))
    last = page_text(agent_client.get(INBOX + "?onglet=terminees&page=21"))

    assert re.search(r"Terminées\s*(&nbsp;|\xa0)?\s*<span[^>]*>1\u202f000\+</span>", page)
    assert re.search(r"À traiter\s*(&nbsp;|\xa0)?\s*<span[^>]*>3</span>", page)
    # The shown tab counts up to a thousand past its page: the next pages, not the last one.
    assert "plus de 1\u202f000 tâches" in finished and "Page 1</a>" in finished
    assert "Page suivante" in finished and "Dernière page" not in finished
    assert "1\u202f001 tâches" in last and "Page 21 sur 21" in last  # counted to its end


def shown_in_order(page: str, numbers: list[str]) -> list[str]:
    """The request numbers of the page, each once, in the order the rows show them."""
    return [n for n in dict.fromkeys(re.findall(r"2026-\d{6}", page)) if n in numbers]


def test_rows_are_sorted_by_deadline_and_split_into_pages(
    agent_client: FlaskClient, db_session: Session, new_task: NewTask
) -> None:
    made = [new_task(timedelta(hours=n)) for n in range(55, 0, -1)]

    first = page_text(agent_client.get(INBOX))
    second = page_text(agent_client.get(INBOX + "?page=2"))

    numbers = [number_of(db_session, task) for task in reversed(made)]  # soonest first
    assert shown_in_order(first, numbers) == numbers[:50]
    assert shown_in_order(second, numbers) == numbers[50:]
    assert "Page 1 sur 2" in first and 'href="/agent/taches?page=2"' in first
    assert "55 tâches" in first


def test_filters_and_search_live_in_the_address(
    agent_client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    new_task: NewTask,
) -> None:
    nguyen = make_foyer(db_session, clock, "Nguyen")
    late = new_task(-timedelta(1))
    fresh = new_task(timedelta(9), foyer=nguyen)
    older = new_task(timedelta(8), foyer=nguyen, age=timedelta(days=10))

    def shown(query: str) -> set[str]:
        response = agent_client.get(f"{INBOX}?{query}")
        assert response.status_code == 200
        return {n for n in numbers(db_session, late, fresh, older) if n in page_text(response)}

    assert shown("q=nguy") == numbers(db_session, fresh, older)
    assert shown(f"q={number_of(db_session, late)}") == numbers(db_session, late)
    assert shown("couleur=rouge") == numbers(db_session, late)
    assert shown("couleur=vert&q=nguyen") == numbers(db_session, fresh, older)
    assert shown("du=2026-08-20&au=2026-08-25") == numbers(db_session, older)
    assert shown("du=2026-09-01&au=2026-09-01") == numbers(db_session, late, fresh)
    assert shown(f"demarche=creche&service={petite_enfance.id}") == numbers(
        db_session, late, fresh, older
    )
    form = page_text(agent_client.get(f"{INBOX}?q=nguyen&couleur=vert"))
    assert 'value="nguyen"' in form
    assert '<option value="vert" selected>' in form


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("onglet=corbeille", "Onglet inconnu."),
        ("couleur=violet", "Couleur d'échéance inconnue"),
        ("du=2026-13-01", "Les dates s'écrivent AAAA-MM-JJ"),
        ("au=hier", "Les dates s'écrivent AAAA-MM-JJ"),
        ("du=2026-09-10&au=2026-09-01", "La date de début est postérieure à la date de fin."),
        ("page=0", "Le numéro de page n'est pas valide."),
        ("page=deux", "Le numéro de page n'est pas valide."),
        ("page=" + "9" * 5000, "Le numéro de page n'est pas valide."),
        ("service=abc", "Service inconnu"),
        ("demarche=inconnue", "Démarche inconnue."),
        ("q=" + "x" * 101, "Le texte recherché est trop long"),
    ],
)
def test_bad_filter_values_get_a_french_400(
    agent_client: FlaskClient, creche: ProcedureVersion, query: str, message: str
) -> None:
    response = agent_client.get(f"{INBOX}?{query}")

    assert response.status_code == 400
    assert message in page_text(response)


def test_filtering_on_another_services_id_is_refused(
    agent_client: FlaskClient, db_session: Session, creche: ProcedureVersion
) -> None:
    other = make_service(db_session)

    response = agent_client.get(f"{INBOX}?service={other.id}")

    assert response.status_code == 400
    assert "Service inconnu, ou qui n'est pas l'un des vôtres." in page_text(response)


def test_an_agent_claims_a_task_from_the_list(
    agent_client: FlaskClient, db_session: Session, agent: Account, new_task: NewTask
) -> None:
    task = new_task(timedelta(1))
    assert f'action="/agent/taches/{task.id}/prendre"' in page_text(agent_client.get(INBOX))

    response = post(agent_client, f"/agent/taches/{task.id}/prendre", {"retour": "q=martin"})

    assert response.headers["Location"] == "/agent/taches?q=martin"
    assert "La tâche est à vous" in flashed(agent_client, response)
    db_session.refresh(task)
    assert (task.state, task.assignee_id) == (TaskState.CLAIMED, agent.id)
    mine = page_text(agent_client.get(f"{INBOX}?onglet=mes_taches"))
    assert number_of(db_session, task) in mine
    assert f'action="/agent/taches/{task.id}/prendre"' not in mine


def test_a_task_taken_meanwhile_gets_a_clear_message(
    agent_client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    new_task: NewTask,
) -> None:
    task = new_task(timedelta(1))
    colleague = make_agent(db_session, clock, petite_enfance)
    token = csrf_token(agent_client, INBOX)
    ctx = EngineContext(clock=clock)
    tasks.claim(db_session, ctx, AgentActor(colleague.id, frozenset({petite_enfance.id})), task.id)

    response = agent_client.post(f"/agent/taches/{task.id}/prendre", data={"csrf_token": token})

    assert "Cette tâche vient d'être prise par un collègue." in flashed(agent_client, response)
    db_session.refresh(task)
    assert task.assignee_id == colleague.id


def test_claiming_needs_the_form_token_and_a_task_of_ones_services(
    agent_client: FlaskClient, db_session: Session, new_task: NewTask
) -> None:
    elsewhere = new_task(timedelta(0), service=make_service(db_session))

    assert agent_client.post(f"/agent/taches/{elsewhere.id}/prendre").status_code == 400
    assert post(agent_client, f"/agent/taches/{elsewhere.id}/prendre", {}).status_code == 404
    db_session.refresh(elsewhere)
    assert elsewhere.state is TaskState.OPEN


def test_a_supervisor_assigns_or_takes_selected_tasks(
    supervisor_client: FlaskClient,
    db_session: Session,
    agent: Account,
    supervisor: Account,
    new_task: NewTask,
) -> None:
    made = [new_task(timedelta(hours=n)) for n in (1, 2, 3)]
    page = page_text(supervisor_client.get(INBOX))
    assert 'id="attribution"' in page and f'value="{made[0].id}" form="attribution"' in page
    assert f'<option value="{agent.id}">' in page

    assigned = assign(supervisor_client, made[:2], agent)
    assert "2 tâches attribuées." in flashed(supervisor_client, assigned)
    taken = assign(supervisor_client, made[2:])
    assert "1 tâche attribuée." in flashed(supervisor_client, taken)

    owners = [db_session.scalar(select(Task.assignee_id).where(Task.id == t.id)) for t in made]
    assert owners == [agent.id, agent.id, supervisor.id]


def test_a_bulk_assignment_with_a_closed_task_assigns_nothing(
    supervisor_client: FlaskClient, db_session: Session, agent: Account, new_task: NewTask
) -> None:
    still_open = new_task(timedelta(0))
    done = new_task(timedelta(0), state=TaskState.DONE)

    response = assign(supervisor_client, [still_open, done], agent)

    assert "rien n'a été attribué" in flashed(supervisor_client, response)
    db_session.refresh(still_open)
    assert still_open.assignee_id is None


def test_a_plain_agent_cannot_assign(
    agent_client: FlaskClient, db_session: Session, agent: Account, new_task: NewTask
) -> None:
    task = new_task(timedelta(0))
    assert 'id="attribution"' not in page_text(agent_client.get(INBOX))

    response = assign(agent_client, [task], agent)

    assert response.status_code == 403
    db_session.refresh(task)
    assert task.state is TaskState.OPEN


def test_a_supervisor_cannot_assign_to_an_agent_outside_the_service(
    supervisor_client: FlaskClient, db_session: Session, clock: FrozenClock, new_task: NewTask
) -> None:
    task = new_task(timedelta(0))
    stranger = make_agent(db_session, clock)  # in another service

    response = assign(supervisor_client, [task], stranger)

    assert response.status_code == 403
    db_session.refresh(task)
    assert task.assignee_id is None


def test_an_agent_saves_reopens_replaces_and_deletes_a_filter(
    agent_client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    agent: Account,
    new_task: NewTask,
) -> None:
    late = new_task(-timedelta(1))
    new_task(timedelta(9))
    page = page_text(agent_client.get(f"{INBOX}?couleur=rouge&page=1"))
    assert 'name="requete" value="couleur=rouge"' in page

    saved = save_filter(agent_client, " Mes  retards ", "couleur=rouge")

    assert saved.headers["Location"] == "/agent/taches?couleur=rouge"
    listing = flashed(agent_client, saved)
    assert "Filtre « Mes retards » enregistré." in listing
    assert '<a class="fr-link" href="/agent/taches?couleur=rouge">Mes retards</a>' in listing
    reopened = page_text(agent_client.get("/agent/taches?couleur=rouge"))
    assert number_of(db_session, late) in reopened and "1 tâche" in reopened

    save_filter(agent_client, "Mes retards", "onglet=mes_taches")
    rows = db_session.scalars(select(SavedFilter).where(SavedFilter.account_id == agent.id)).all()
    assert [(row.name, row.query) for row in rows] == [("Mes retards", "onglet=mes_taches")]

    other = make_agent(db_session, clock, petite_enfance)
    switch_to(agent_client, other)
    assert delete_filter(agent_client, rows[0].id).status_code == 404
    assert "Mes retards" not in page_text(agent_client.get(INBOX))
    switch_to(agent_client, agent)
    deleted = delete_filter(agent_client, rows[0].id)
    assert "Filtre enregistré supprimé." in flashed(agent_client, deleted)
    assert db_session.scalars(select(SavedFilter)).all() == []


def test_a_filter_is_saved_only_with_a_name_and_valid_filters(
    agent_client: FlaskClient, db_session: Session, creche: ProcedureVersion
) -> None:
    unnamed = save_filter(agent_client, "  ", "couleur=rouge")
    assert "Donnez au filtre un nom de 1 à 80 caractères." in flashed(agent_client, unnamed)
    invalid = save_filter(agent_client, "Violet", "couleur=violet")

    assert invalid.status_code == 400
    assert "Couleur d'échéance inconnue" in page_text(invalid)
    assert db_session.scalars(select(SavedFilter)).all() == []


def test_families_and_visitors_do_not_reach_the_inbox(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    assert client.get(INBOX).status_code == 302  # to the login page
    family = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, family.email).status_code == 302
    assert client.get(INBOX).status_code == 403
