"""The residence certificate walked in headless Chromium on the demo portal: the Martin family
asks for it for Léa with the proof of address already in its vault; the school service's
agent reads the foyer's address in the history and issues it; the family finds it on its
request. Pages checked with axe-core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web import journeys
from tests.web.browser import serve_portal

FAMILY = "famille.martin@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the service handling it


@pytest.mark.browser
def test_a_family_asks_for_a_residence_certificate_and_the_agent_issues_it(
    tmp_path: Path, browser: Any
) -> None:
    problems: journeys.Problems = {}
    with serve_portal(tmp_path / "var") as portal:
        family_context, agent_context = journeys.desks(browser)
        family, agent = family_context.new_page(), agent_context.new_page()

        journeys.start(family, portal.url, FAMILY, "Attestation de domicile")
        family.get_by_label("Enfant à inscrire à l'école").select_option(label="Léa Martin")
        number = journeys.send(family).number

        review = journeys.open_from_inbox(agent, portal, AGENT, number)
        assert "Adresse du dossier du foyer : 12 rue des Lilas, 33600 Bellerive." in review
        choice = "Le justificatif confirme l'adresse : délivrer l'attestation"
        journeys.decide(agent, "Décision", choice, problems, "domicile-agent-demande")

        shown = journeys.read_decision(family, portal.url, number, problems, "domicile-famille")
        assert "Documents délivrés par la mairie" in shown
        family_context.close()
        agent_context.close()

    assert problems == {k: [] for k in problems}, problems
