"""School outside the catchment area walked in headless Chromium on the demo portal: the
Benali family (avenue de la Gare, Jean-Jaurès' secteur) asks the Lilas for Inès with
another reason, no document asked; the commission's morning comes (the worker fires the
timer); the school service's agent records the commission's decision. The agent's page is
checked with axe-core at 360 and 1280 px and saved in tests/artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from procedures import tasks
from procedures.models import Demande, DemandeStatus
from tests.web import journeys
from tests.web.browser import MovableClock, Portal, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.benali@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the service handling it


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the HTTP test proves the journey's steps on each
    deployment; a browser test costs a minute of the suite's budget)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def commission_meets(portal: Portal, number: str) -> None:
    """The portal's clock moves to the commission's morning and the worker's timer pass runs."""
    rt = runtime(portal.app)
    with rt.sessions() as session:
        demande = session.scalars(select(Demande).where(Demande.number == number)).one()
        assert demande.wakes_at is not None
        clock = rt.clock
        assert isinstance(clock, MovableClock)
        clock.advance(demande.wakes_at - clock.now() + timedelta(minutes=1))
        assert tasks.fire_timers(session, rt.engine_context) == 1


@pytest.mark.browser
def test_a_family_asks_for_another_school_and_the_agent_records_the_commission_s_decision(
    portal: Portal, browser: Any
) -> None:
    problems: journeys.Problems = {}
    family_context, agent_context = journeys.desks(browser)
    family, agent = family_context.new_page(), agent_context.new_page()

    journeys.start(family, portal.url, FAMILY, "Dérogation scolaire")
    family.get_by_label("Enfant concerné").select_option(label="Inès Benali")
    for group, choice in (
        ("École demandée", "Groupe scolaire des Lilas (maternelle et élémentaire)"),
        ("Classe de l'enfant à la rentrée", "Élémentaire (du CP au CM2)"),
        ("Motif de la demande", "Autre motif"),
    ):
        family.get_by_role("group", name=group).get_by_text(choice, exact=True).click()
    family.get_by_label("Précisions pour la commission").fill("Nous déménageons aux Lilas en mars.")
    problems["formulaire"] = page_problems(family, "derogation-formulaire")
    sent = journeys.send(family, share=False)
    assert "ne demandent aucun justificatif" in sent.documents

    commission_meets(portal, sent.number)
    review = journeys.open_from_inbox(agent, portal, AGENT, sent.number)
    assert "Nous déménageons aux Lilas en mars." in review
    decision = "Décision de la commission"
    journeys.decide(agent, decision, "Dérogation accordée", problems, "derogation-agent-demande")
    family_context.close()
    agent_context.close()

    with runtime(portal.app).sessions() as session:
        demande = session.scalars(select(Demande).where(Demande.number == sent.number)).one()
        assert demande.status is DemandeStatus.ACCEPTEE
    assert problems == {k: [] for k in problems}, problems
