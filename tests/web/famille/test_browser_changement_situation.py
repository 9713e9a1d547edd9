"""A change of situation walked in headless Chromium on the demo portal: the Martins declare
their new phone number from the catalogue (no document is asked for it), the school
service's agent applies it, and the family reads the decision and finds the number in its
household file. The main pages are checked with axe-core and saved in tests/artifacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.seed import DEMO_PASSWORD
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems, serve_portal

FAMILY = "famille.martin@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the town's guichet unique
PHONE = "06 12 34 56 78"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the HTTP test proves the deployments)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def declare_the_number(page: Any, base: str, problems: dict[str, list[Any]]) -> str:
    """From the catalogue to the confirmation; the request's number."""
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")
    page.goto(base + "/famille/demarches")
    page.get_by_role("button", name=re.compile("Commencer — Changement de situation")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    problems["formulaire"] = page_problems(page, "situation-formulaire")
    change = page.get_by_role("group", name="Ce qui change")
    change.get_by_text("Nous changeons de numéro de téléphone", exact=True).click()
    page.get_by_label("Nouveau numéro de téléphone").fill(PHONE)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/justificatifs$"))
    page.get_by_role("button", name="Continuer").click()  # nothing asked for a phone number
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/recapitulatif$"))
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/confirmation$"))
    found = re.search(r"Numéro de demande : (\S+)", page.locator("main").inner_text())
    assert found
    return found.group(1)


def apply_it(page: Any, portal: Portal, number: str, problems: dict[str, list[Any]]) -> None:
    base = portal.url
    sign_in_agent_in_browser(page, base, portal.app, AGENT)
    page.goto(base + "/agent/taches")
    page.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
    page.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
    assert "Une fois validé, ce changement sera reporté sur" in page.locator("main").inner_text()
    page.get_by_role("button", name="Prendre cette étape").click()
    decision = page.get_by_role("group", name="Décision")
    decision.get_by_text("Changement vérifié : le reporter partout où il sert", exact=True).click()
    problems["agent-demande"] = page_problems(page, "situation-agent-demande")
    page.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in page.locator(".fr-alert").first.inner_text()


@pytest.mark.browser
def test_a_family_declares_a_new_number_and_the_agent_applies_it(
    portal: Portal, browser: Any
) -> None:
    problems: dict[str, list[Any]] = {}
    family_context, agent_context = axe_context(browser), axe_context(browser)
    for context in (family_context, agent_context):
        context.set_default_timeout(15_000)
    family, agent = family_context.new_page(), agent_context.new_page()

    number = declare_the_number(family, portal.url, problems)
    apply_it(agent, portal, number, problems)

    family.goto(portal.url + "/famille/demandes")
    family.locator("tr", has_text=number).get_by_role("link").first.click()
    badge = family.locator("main .fr-badge").first.text_content()  # shown in capitals
    assert str(badge).strip() == "Acceptée"
    assert f"Votre nouveau numéro, {PHONE}, est enregistré" in family.locator("main").inner_text()
    problems["famille-demande"] = page_problems(family, "situation-famille-demande")
    family.goto(portal.url + "/famille/foyer")
    assert f"Téléphone du foyer : {PHONE}." in family.locator("main").inner_text()
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
