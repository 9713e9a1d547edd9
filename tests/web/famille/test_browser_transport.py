"""School transport walked in headless Chromium on the demo portal: the Benali family, whose
home is in Magonty (4.3 km from Jean-Jaurès), registers Inès for the bus from the catalogue;
the school service's agent validates it; the family finds the decision and its pass. The
main pages are checked with axe-core at 360 and 1280 px and saved in tests/artifacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account
from coffre.models import Foyer
from demo.seed import DEMO_PASSWORD
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.benali@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the service handling it
CHILD = "Inès Benali"
CONSENT = "Je partage ce document avec le service"


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


def file_the_request(page: Any, base: str, problems: dict[str, list[Any]]) -> str:
    """From the catalogue to the confirmation; the request's number."""
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")
    page.goto(base + "/famille/demarches")
    page.get_by_role("button", name=re.compile("Commencer — Transport scolaire")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    problems["formulaire"] = page_problems(page, "transport-formulaire")
    page.get_by_label("Enfant qui prendra le car").select_option(label=CHILD)
    school = page.get_by_role("group", name="École de l'enfant")
    school.get_by_text("Groupe scolaire Jean-Jaurès (ligne 2)", exact=True).click()
    page.get_by_label("Arrêt où votre enfant montera").select_option(
        label="Ligne 2 : Magonty, salle des fêtes"
    )
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


def validate(page: Any, portal: Portal, number: str, problems: dict[str, list[Any]]) -> None:
    base = portal.url
    sign_in_agent_in_browser(page, base, portal.app, AGENT)
    page.goto(base + "/agent/taches")
    page.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
    page.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
    assert "Ligne 2 : Magonty, salle des fêtes" in page.locator("main").inner_text()
    page.get_by_role("button", name="Prendre cette étape").click()
    decision = page.get_by_role("group", name="Décision")
    decision.get_by_text("Valider l'inscription et délivrer la carte", exact=True).click()
    problems["agent-demande"] = page_problems(page, "transport-agent-demande")
    page.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in page.locator(".fr-alert").first.inner_text()


@pytest.mark.browser
def test_a_family_registers_for_the_bus_and_the_agent_validates_it(
    portal: Portal, browser: Any
) -> None:
    problems: dict[str, list[Any]] = {}
    family_context, agent_context = axe_context(browser), axe_context(browser)
    for context in (family_context, agent_context):
        context.set_default_timeout(15_000)
    family, agent = family_context.new_page(), agent_context.new_page()

    number = file_the_request(family, portal.url, problems)
    validate(agent, portal, number, problems)

    family.goto(portal.url + "/famille/demandes")
    family.locator("tr", has_text=number).get_by_role("link").first.click()
    badge = family.locator("main .fr-badge").first.text_content()  # shown in capitals
    assert str(badge).strip() == "Acceptée"
    assert "Documents délivrés par la mairie" in family.locator("main").inner_text()
    problems["famille-demande"] = page_problems(family, "transport-famille-demande")
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
