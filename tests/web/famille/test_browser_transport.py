"""School transport walked in headless Chromium on the demo portal: the Benali family, whose
home is in Magonty (4.3 km from Jean-Jaurès), registers Inès for the bus from the catalogue;
the school service's agent validates it; the family finds the decision and its pass. The
main pages are checked with axe-core at 360 and 1280 px and saved in tests/artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account
from coffre.models import Foyer
from tests.web import journeys
from tests.web.browser import Portal, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.benali@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the service handling it
CHILD = "Inès Benali"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the deployments are proven by the HTTP tests: the journey
    is the same on each, and a browser test costs a minute of the suite's budget)."""
    with serve_portal(tmp_path / "var") as served:
        with runtime(served.app).sessions() as session:
            account = session.scalars(select(Account).where(Account.email == FAMILY)).one()
            foyer = session.get(Foyer, account.foyer_id)
            assert foyer is not None
            foyer.address_line = "12 avenue de Magonty"
            session.commit()
        yield served


@pytest.mark.browser
def test_a_family_registers_for_the_bus_and_the_agent_validates_it(
    portal: Portal, browser: Any
) -> None:
    problems: journeys.Problems = {}
    family_context, agent_context = journeys.desks(browser)
    family, agent = family_context.new_page(), agent_context.new_page()

    journeys.start(family, portal.url, FAMILY, "Transport scolaire")
    problems["formulaire"] = page_problems(family, "transport-formulaire")
    family.get_by_label("Enfant qui prendra le car").select_option(label=CHILD)
    school = family.get_by_role("group", name="École de l'enfant")
    school.get_by_text("Groupe scolaire Jean-Jaurès (ligne 2)", exact=True).click()
    family.get_by_label("Arrêt où votre enfant montera").select_option(
        label="Ligne 2 : Magonty, salle des fêtes"
    )
    number = journeys.send(family).number

    review = journeys.open_from_inbox(agent, portal, AGENT, number)
    assert "Ligne 2 : Magonty, salle des fêtes" in review
    choice = "Valider l'inscription et délivrer la carte"
    journeys.decide(agent, "Décision", choice, problems, "transport-agent-demande")

    shown = journeys.read_decision(family, portal.url, number, problems, "transport-famille")
    assert "Documents délivrés par la mairie" in shown
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
