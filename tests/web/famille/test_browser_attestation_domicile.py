"""The residence certificate walked in headless Chromium on the demo portal: the Martin family
asks for it for Léa with the proof of address already in its vault; the school service's
agent reads the foyer's address in the history and issues it; the family finds it on its
request. Pages checked with axe-core."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from demo.seed import DEMO_PASSWORD
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import axe_context, page_problems, serve_portal

FAMILY = "famille.martin@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the service handling it
CONSENT = "Je partage ce document avec le service"


def file_the_request(page: Any, base: str, problems: dict[str, list[Any]]) -> str:
    """From the catalogue to the confirmation; the request's number."""
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")
    page.goto(base + "/famille/demarches")
    page.get_by_role("button", name=re.compile("Commencer — Attestation de domicile")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    page.get_by_label("Enfant à inscrire à l'école").select_option(label="Léa Martin")
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/justificatifs$"))
    page.locator("label", has_text=CONSENT).first.click()  # DSFR draws the box on its label
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/recapitulatif$"))
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/confirmation$"))
    found = re.search(r"Numéro de demande : (\S+)", page.locator("main").inner_text())
    assert found
    return found.group(1)


@pytest.mark.browser
def test_a_family_asks_for_a_residence_certificate_and_the_agent_issues_it(
    tmp_path: Path, browser: Any
) -> None:
    problems: dict[str, list[Any]] = {}
    with serve_portal(tmp_path / "var") as portal:
        family_context, agent_context = axe_context(browser), axe_context(browser)
        for context in (family_context, agent_context):
            context.set_default_timeout(15_000)
        family, agent = family_context.new_page(), agent_context.new_page()

        number = file_the_request(family, portal.url, problems)

        sign_in_agent_in_browser(agent, portal.url, portal.app, AGENT)
        agent.goto(portal.url + "/agent/taches")
        agent.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
        agent.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
        assert "Adresse du dossier du foyer : 12 rue des Lilas, 33600 Bellerive." in (
            agent.locator("main").inner_text()
        )
        agent.get_by_role("button", name="Prendre cette étape").click()
        decision = agent.get_by_role("group", name="Décision")
        decision.get_by_text(
            "Le justificatif confirme l'adresse : délivrer l'attestation", exact=True
        ).click()
        problems["agent-demande"] = page_problems(agent, "domicile-agent-demande")
        agent.get_by_role("button", name="Terminer l'étape").click()
        assert "L'étape est terminée." in agent.locator(".fr-alert").first.inner_text()

        family.goto(portal.url + "/famille/demandes")
        family.locator("tr", has_text=number).get_by_role("link").first.click()
        assert str(family.locator("main .fr-badge").first.text_content()).strip() == "Acceptée"
        assert "Documents délivrés par la mairie" in family.locator("main").inner_text()
        problems["famille-demande"] = page_problems(family, "domicile-famille-demande")
        family_context.close()
        agent_context.close()

    assert problems == {k: [] for k in problems}, problems
