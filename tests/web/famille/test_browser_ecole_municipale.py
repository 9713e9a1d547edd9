"""The sports school and conservatoire walked in headless Chromium on the demo portal: the
Martin family registers Hugo for piano from the catalogue; the sports and culture service's
agent allocates the course's places from the « Tirages au sort » page; the family reads that
Hugo has a place. The main pages are checked with axe-core at 360 and 1280 px."""

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
AGENT = "agent.sports@bellerive.example"  # Sports et culture, the service handling it


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the HTTP tests prove the deployments)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def file_the_request(page: Any, base: str, problems: dict[str, list[Any]]) -> str:
    """From the catalogue to the confirmation; the request's number."""
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")
    page.goto(base + "/famille/demarches")
    name = re.compile("Commencer — École municipale des sports et conservatoire")
    page.get_by_role("button", name=name).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    page.get_by_label("Enfant à inscrire").select_option(label="Hugo Martin")
    page.get_by_label("Cours choisi").select_option(label="Piano (7 à 12 ans), conservatoire")
    problems["formulaire"] = page_problems(page, "ecole-municipale-formulaire")
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/(justificatifs|recapitulatif)$"))
    if page.url.endswith("/justificatifs"):  # nothing to share: straight on
        page.get_by_role("button", name="Continuer").click()
        page.wait_for_url(re.compile(r"/famille/demandes/\d+/recapitulatif$"))
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/confirmation$"))
    found = re.search(r"Numéro de demande : (\S+)", page.locator("main").inner_text())
    assert found
    return found.group(1)


def allocate(page: Any, portal: Portal, problems: dict[str, list[Any]]) -> None:
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
    problems: dict[str, list[Any]] = {}
    family_context, agent_context = axe_context(browser), axe_context(browser)
    for context in (family_context, agent_context):
        context.set_default_timeout(15_000)
    family, agent = family_context.new_page(), agent_context.new_page()

    number = file_the_request(family, portal.url, problems)
    allocate(agent, portal, problems)

    family.goto(portal.url + "/famille/demandes")
    family.locator("tr", has_text=number).get_by_role("link").first.click()
    badge = family.locator("main .fr-badge").first.text_content()
    assert str(badge).strip() == "Acceptée"
    assert "une place est attribuée à votre enfant" in family.locator("main").inner_text()
    problems["famille-demande"] = page_problems(family, "ecole-municipale-famille-demande")
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
