"""The sports school and conservatoire walked in headless Chromium on the demo portal: the
Martin family registers Hugo for piano from the catalogue; the sports and culture service's
agent allocates the course's places from the « Tirages au sort » page; the family reads that
Hugo has a place. The main pages are checked with axe-core at 360 and 1280 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web import journeys
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, page_problems, serve_portal

FAMILY = "famille.martin@bellerive.example"
AGENT = "agent.sports@bellerive.example"  # Sports et culture, the service handling it


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the HTTP tests prove the deployments)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def allocate(page: Any, portal: Portal, problems: journeys.Problems) -> None:
    sign_in_agent_in_browser(page, portal.url, portal.app, AGENT)
    page.goto(portal.url + "/agent/tirages")
    piano = page.locator("section", has=page.get_by_role("heading", name="Piano (7 à 12 ans)"))
    assert "1 demande(s) en attente d'attribution" in piano.inner_text()
    problems["tirages"] = page_problems(page, "ecole-municipale-tirages")
    piano.get_by_role("button", name="Attribuer les places").click()
    alert = page.locator(".fr-alert").first.inner_text()
    assert "Les places ont été attribuées sans tirage" in alert


@pytest.mark.browser
def test_a_family_registers_for_piano_and_the_agent_allocates_the_places(
    portal: Portal, browser: Any
) -> None:
    problems: journeys.Problems = {}
    family_context, agent_context = journeys.desks(browser)
    family, agent = family_context.new_page(), agent_context.new_page()

    journeys.start(family, portal.url, FAMILY, "École municipale des sports et conservatoire")
    family.get_by_label("Enfant à inscrire").select_option(label="Hugo Martin")
    family.get_by_label("Cours choisi").select_option(label="Piano (7 à 12 ans), conservatoire")
    problems["formulaire"] = page_problems(family, "ecole-municipale-formulaire")
    number = journeys.send(family, share=False).number  # nothing is asked
    allocate(agent, portal, problems)

    shown = journeys.read_decision(family, portal.url, number, problems, "ecole-municipale")
    assert "une place est attribuée à votre enfant" in shown
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
