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
from sqlalchemy.orm import Session

from accounts.models import Account, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures.history import EngineContext
from procedures.lottery.draws import draw_seed, drawn_order
from procedures.models import CourseDraw, Demande, DemandeStatus
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
