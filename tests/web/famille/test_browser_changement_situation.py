"""A change of situation walked in headless Chromium on the demo portal: the Martins declare
their new phone number from the catalogue (no document is asked for it), the school
service's agent applies it, and the family reads the decision and finds the number in its
household file. The main pages are checked with axe-core and saved in tests/artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web import journeys
from tests.web.browser import Portal, page_problems, serve_portal

FAMILY = "famille.martin@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the town's guichet unique
PHONE = "06 12 34 56 78"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the HTTP test proves the deployments)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


@pytest.mark.browser
def test_a_family_declares_a_new_number_and_the_agent_applies_it(
    portal: Portal, browser: Any
) -> None:
    problems: journeys.Problems = {}
    family_context, agent_context = journeys.desks(browser)
    family, agent = family_context.new_page(), agent_context.new_page()

    journeys.start(family, portal.url, FAMILY, "Changement de situation")
    problems["formulaire"] = page_problems(family, "situation-formulaire")
    number, address = (
        family.get_by_label("Nouveau numéro de téléphone"),
        family.get_by_label("Nouvelle adresse (numéro et rue)"),
    )
    assert number.is_hidden() and address.is_hidden()  # nothing asked before the change
    change = family.get_by_role("group", name="Ce qui change")
    change.get_by_text("Nous changeons de numéro de téléphone", exact=True).click()
    assert number.is_visible() and address.is_hidden()  # only what a new number needs
    number.fill(PHONE)
    number = journeys.send(family, share=False).number  # nothing asked for a phone number

    review = journeys.open_from_inbox(agent, portal, AGENT, number)
    assert "Une fois validé, ce changement sera reporté sur" in review
    choice = "Changement vérifié : le reporter partout où il sert"
    journeys.decide(agent, "Décision", choice, problems, "situation-agent-demande")

    shown = journeys.read_decision(family, portal.url, number, problems, "situation-famille")
    assert f"Votre nouveau numéro, {PHONE}, est enregistré" in shown
    family.goto(portal.url + "/famille/foyer")
    assert f"Téléphone du foyer : {PHONE}." in family.locator("main").inner_text()
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
