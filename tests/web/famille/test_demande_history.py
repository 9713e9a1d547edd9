"""The family's history of a request names each step, the service that acted (never the
agent) and what happens next, with its expected date in working days (issue 25, point 3)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document, FoyerMember
from procedures import catalogue, tasks
from procedures.models import Demande
from procedures.tasks import AgentActor
from tests.demo.test_french_pages import visible_text
from tests.factories import make_account, make_service, page_text
from tests.procedures.flows import open_task, work
from tests.web.auth.test_login import csrf_token
from tests.web.famille.test_demandes import child, papers, submitted  # noqa: F401  (fixtures)
from web.runtime import runtime


@pytest.fixture
def service(db_session: Session, clock: FrozenClock) -> Service:
    service = make_service(db_session, code="petite-enfance")
    service.name = "Petite enfance"
    db_session.commit()
    definition, bpmn = catalogue.read_built_in("creche")
    catalogue.publish(db_session, clock, definition, bpmn, None)
    db_session.commit()
    return service


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock, service: Service) -> tuple[AgentActor, str]:
    account = make_account(db_session, clock, Role.AGENT, display_name="Claire Dubois")
    return AgentActor(account.id, frozenset({service.id})), account.display_name


def history(client: FlaskClient, demande_id: int) -> list[str]:
    """The history's lines as the family reads them, each with its "what next" lines."""
    page = page_text(client.get(f"/famille/demandes/{demande_id}"))
    section = visible_text(page.split('id="historique"', 1)[1].split("</section>", 1)[0])
    return re.split(r" (?=\d{1,2} \w+ \d{4}, \d\d:\d\d — )", section.split("Historique ", 1)[1])


def next_step_box(client: FlaskClient, demande_id: int) -> str:
    """The "Prochaine étape" box at the top of the request's page, as read."""
    page = page_text(client.get(f"/famille/demandes/{demande_id}"))
    return visible_text(page.split('id="etape"', 1)[1].split("</section>", 1)[0])


def test_the_history_names_the_step_the_service_and_what_comes_next_with_its_date(
    family_client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    service: Service,
    agent: tuple[AgentActor, str],
    child: FoyerMember,  # noqa: F811
    papers: list[Document],  # noqa: F811
) -> None:
    actor, agent_name = agent
    # Tuesday 1 September 2026, 10:00 in Bellerive: 48 working hours for the file's check.
    demande_id = submitted(family_client, child, papers)
    clock.advance(timedelta(hours=2))
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    ctx = runtime(family_client.application).engine_context
    work(db_session, ctx, actor, demande, {})  # the file is complete: the commission next

    lines = history(family_client, demande_id)

    assert lines[0].endswith(
        "Vous avez déposé votre demande. Étape suivante : « Vérifier la complétude du dossier "
        "», par le service Petite enfance."
    ), "a passed step is named, with no date left to wait for"
    assert "Le service Petite enfance a commencé l'instruction de votre demande." in lines[1]
    assert lines[2].endswith(
        "L'étape « Vérifier la complétude du dossier » a été traitée par le service Petite "
        "enfance. Étape suivante : « Décision de la commission », par le service Petite "
        "enfance, prévue au plus tard le 14 septembre 2026 (sous 9 jours ouvrés)."
    )
    assert all(agent_name not in line for line in lines)
    assert next_step_box(family_client, demande_id).endswith(
        "Décision de la commission — pris en charge par le service Petite enfance, prévue au "
        "plus tard le 14 septembre 2026 (sous 9 jours ouvrés)."
    ), "the box at the top says the date too"

    # The commission offers a place: the family's step, within its calendar days.
    clock.advance(timedelta(hours=1))
    work(db_session, ctx, actor, demande, {"decision": "place"})
    lines = history(family_client, demande_id)

    assert lines[-1].endswith(
        "L'étape « Décision de la commission » a été traitée par le service Petite enfance. "
        "Étape suivante, à vous : « Accepter la place proposée », avant le 9 septembre 2026."
    )
    assert lines[2].endswith("Étape suivante : « Décision de la commission », par le service "
                             "Petite enfance.")  # fmt: skip


def test_a_step_waiting_on_the_family_says_its_time_is_on_hold(
    family_client: FlaskClient,
    db_session: Session,
    service: Service,
    agent: tuple[AgentActor, str],
    child: FoyerMember,  # noqa: F811
    papers: list[Document],  # noqa: F811
) -> None:
    actor, agent_name = agent
    demande_id = submitted(family_client, child, papers)
    demande = db_session.get(Demande, demande_id)
    assert demande is not None
    ctx = runtime(family_client.application).engine_context
    task = open_task(db_session, demande)
    tasks.claim(db_session, ctx, actor, task.id)
    tasks.ask_family(db_session, ctx, actor, task.id, "Le carnet est illisible.", [])

    lines = history(family_client, demande_id)

    assert lines[0].endswith(
        "Étape suivante : « Vérifier la complétude du dossier », par le service Petite enfance "
        ": son délai est suspendu jusqu'à votre réponse."
    )
    assert any("Le service Petite enfance vous demande des informations." in line for line in lines)
    assert all(agent_name not in line for line in lines)
    assert next_step_box(family_client, demande_id).endswith(
        "pris en charge par le service Petite enfance : son délai est suspendu jusqu'à votre "
        "réponse."
    )
    assert csrf_token(family_client, f"/famille/demandes/{demande_id}")  # the page still works
