"""The sports school and conservatoire through HTTP: a family registers its child for piano
from the catalogue, the course is over-subscribed, the sports and culture service's agent
runs the draw from the « Tirages au sort » page, and the family reads its outcome."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures.history import EngineContext
from procedures.lottery.draws import draw_seed, drawn_order
from procedures.models import CourseDraw, Demande, DemandeStatus, Task, TaskState
from tests.factories import make_agent, make_service, page_text
from tests.procedures.flows import publish
from tests.procedures.lottery.test_ecole_municipale import registered
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token

PUBLISHED = "12 27 33 41"


@pytest.fixture
def sports(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="sports-culture")
    service.name = "Sports et culture"
    db_session.commit()
    publish(db_session, clock, "ecole_municipale")
    return service


@pytest.fixture
def child(db_session: Session, family: Account) -> FoyerMember:
    foyer = db_session.get(Foyer, family.foyer_id)
    assert foyer is not None
    member = FoyerMember(
        role=MemberRole.ENFANT, first_name="Léa", last_name="Test", birth_date=date(2017, 3, 1)
    )
    foyer.members.append(member)
    db_session.commit()
    return member


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client, "/famille/"), **(data or {})})


def file_course(client: FlaskClient, child: FoyerMember, course: str) -> int:
    """The family's filing through its pages: start, form, submit (no document is asked)."""
    started = post(client, "/famille/demarches/ecole_municipale/commencer")
    match = re.search(r"/famille/demandes/(\d+)/formulaire", started.headers["Location"])  # type: ignore[attr-defined]
    assert match
    demande_id = int(match.group(1))
    form = {"enfant": str(child.id), "cours": course, "action": "continuer"}
    assert post(client, f"/famille/demandes/{demande_id}/formulaire", form).status_code == 303  # type: ignore[attr-defined]
    assert post(client, f"/famille/demandes/{demande_id}/deposer").status_code == 303  # type: ignore[attr-defined]
    return demande_id


def test_a_family_files_and_the_agent_draws_an_over_subscribed_course(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family_client: FlaskClient,
    child: FoyerMember,
    sports: Service,
) -> None:
    catalogue = page_text(family_client.get("/famille/demarches"))
    assert "École municipale des sports et conservatoire" in catalogue
    demande_id = file_course(family_client, child, "piano")
    others = [registered(db_session, ctx, clock, f"F{n}").id for n in range(4)]  # 5 for 4 places
    waiting = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Attribution des places du cours (tirage au sort)" in waiting

    outsider = app.test_client()
    sign_in_agent(outsider, make_agent(db_session, clock, make_service(db_session)))
    assert outsider.get("/agent/tirages").status_code == 404
    agent = app.test_client()
    assert sign_in_agent(agent, make_agent(db_session, clock, sports)).status_code == 302
    board = page_text(agent.get("/agent/tirages"))
    assert "Piano (7 à 12 ans)" in board and "Valeur publiée pour le tirage" in board
    token = csrf_token(agent, "/agent/tirages")
    sent = agent.post("/agent/tirages/piano", data={"csrf_token": token, "graine": PUBLISHED})
    assert sent.status_code == 302

    season = "2026-2027"
    order = drawn_order([demande_id, *others], draw_seed("piano", season, PUBLISHED))
    draw = db_session.query(CourseDraw).one()
    assert draw.lottery and json.loads(draw.drawn_order) == order
    assert "Tirage du" in page_text(agent.get("/agent/tirages"))
    db_session.expire_all()
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    if order.index(demande_id) < 4:
        assert demande.status is DemandeStatus.ACCEPTEE and "une place est attribuée" in detail
    else:
        assert demande.status is DemandeStatus.EN_INSTRUCTION
        assert "n° 1 sur la liste d'attente" in detail
        assert "Liste d'attente : une place vous sera attribuée dès qu'une se libère" in detail


def test_a_child_not_of_the_course_s_age_is_told_why_at_once(
    family_client: FlaskClient, child: FoyerMember, sports: Service
) -> None:
    demande_id = file_course(family_client, child, "eveil-sportif")

    detail = page_text(family_client.get(f"/famille/demandes/{demande_id}"))
    assert "Refusée" in detail and "n'aura pas l'âge de ce cours au 1er septembre" in detail


def live_task(session: Session, demande_id: int) -> Task:
    session.expire_all()
    task = session.scalar(
        select(Task).where(
            Task.demande_id == demande_id,
            Task.state.in_((TaskState.OPEN, TaskState.CLAIMED, TaskState.WAITING_FAMILY)),
        )
    )
    assert task is not None
    return task


def by_hand(agent: FlaskClient, task: Task, act: str, form: dict[str, str]) -> tuple[int, str]:
    """The agent's browser posting a form of the demande's page on the task, as if it had one."""
    token = csrf_token(agent, "/agent/taches")
    path = f"/agent/demandes/{task.demande_id}/taches/{task.id}/{act}"
    sent = agent.post(path, data={"csrf_token": token, "version": str(task.row_version), **form})
    return sent.status_code, page_text(sent)


def test_no_agent_completes_the_draw_s_steps_by_hand_the_draw_does(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family_client: FlaskClient,
    child: FoyerMember,
    sports: Service,
) -> None:
    demande_id = file_course(family_client, child, "piano")
    others = [registered(db_session, ctx, clock, f"F{n}").id for n in range(4)]  # 5 for 4 places
    agent = app.test_client()
    sign_in_agent(agent, make_agent(db_session, clock, sports))
    outsider = app.test_client()
    sign_in_agent(outsider, make_agent(db_session, clock, make_service(db_session)))
    # The navigation links to the draws for the service of the allocation step only.
    assert 'href="/agent/tirages"' in page_text(agent.get("/agent/taches"))
    assert "/agent/tirages" not in page_text(outsider.get("/agent/taches"))

    page = page_text(agent.get(f"/agent/demandes/{demande_id}"))
    assert "Elle ne peut être ni prise ni terminée à la main" in page
    assert 'href="/agent/tirages"' in page and "Prendre cette étape" not in page
    task = live_task(db_session, demande_id)
    status, refused = by_hand(agent, task, "prendre", {})
    assert status == 403 and "contournerait le tirage" in refused
    assert by_hand(agent, task, "terminer", {"attribution": "place"})[0] == 403
    assert by_hand(agent, task, "demander", {"message": "Pièce ?"})[0] == 403
    token = csrf_token(agent, "/agent/taches")
    claimed = agent.post(f"/agent/taches/{task.id}/prendre", data={"csrf_token": token})
    assert claimed.status_code == 302
    assert "contournerait le tirage" in page_text(agent.get(claimed.headers["Location"]))
    task = live_task(db_session, demande_id)
    assert task.spec_id == "attribuer_place" and task.state is TaskState.OPEN
    assert task.assignee_id is None and task.completed_at is None
    demande = db_session.get(Demande, demande_id)
    assert demande is not None and demande.status is DemandeStatus.DEPOSEE

    token = csrf_token(agent, "/agent/tirages")
    agent.post("/agent/tirages/piano", data={"csrf_token": token, "graine": PUBLISHED})
    db_session.expire_all()
    assert db_session.get(Task, task.id).state is TaskState.DONE  # type: ignore[union-attr]
    order = drawn_order([demande_id, *others], draw_seed("piano", "2026-2027", PUBLISHED))
    on_the_list = live_task(db_session, order[-1])  # the fifth: first of the waiting list
    assert on_the_list.spec_id == "liste_attente"
    assert by_hand(agent, on_the_list, "terminer", {"attribution": "place"})[0] == 403
    assert live_task(db_session, order[-1]).state is TaskState.OPEN

    token = csrf_token(agent, "/agent/tirages")
    assert agent.post("/agent/tirages/piano/clore", data={"csrf_token": token}).status_code == 302
    db_session.expire_all()
    closed = db_session.get(Demande, order[-1])
    assert closed is not None and closed.status is DemandeStatus.CLASSEE
