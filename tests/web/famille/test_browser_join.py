"""In Chromium: a code printed at the town's counter for the demo family Martin, used by a
new adult who waits, sees nothing, until a parent of the household accepts on its home page.

The waiting page and the home page with the request are checked with axe at 360 and 1280 px.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demo.seed import DEMO_PASSWORD
from tests.factories import PASSWORD
from tests.web.agent.test_guichet_rights import sign_up_with
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems, serve_portal

FAMILY = "famille.martin@bellerive.example"
COUNTER_AGENT = "agent.creche@bellerive.example"  # Petite enfance, a service of the Ville
NEWCOMER = "thomas.martin@test.example"


def print_code_for_martin(browser: Any, portal: Portal) -> tuple[str, str]:
    """The town's agent finds the Martins at the counter and prints them a new family code."""
    page = axe_context(browser).new_page()
    sign_in_agent_in_browser(page, portal.url, portal.app, COUNTER_AGENT)
    page.goto(portal.url + "/agent/guichet")
    page.get_by_label("Nom, nom d'un enfant ou code famille").first.fill("Martin")
    page.get_by_role("button", name="Rechercher").click()
    page.locator("label", has_text="La famille est présente au guichet").first.click()
    page.get_by_role("button", name="Imprimer un nouveau code famille").click()
    codes = (
        page.locator("[data-code-famille]").inner_text(),
        page.locator("[data-code-unique]").inner_text(),
    )
    assert "Ce foyer a déjà un compte en ligne" in page.content()
    page.context.close()
    return codes


def logged_in_page(browser: Any, portal: Portal, email: str, password: str) -> Any:
    page = axe_context(browser).new_page()
    page.goto(portal.url + "/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(portal.url + "/famille/")
    return page


@pytest.mark.browser
def test_a_parent_accepts_the_adult_who_used_a_code_printed_at_the_counter(
    tmp_path: Path, browser: Any
) -> None:
    with serve_portal(tmp_path / "var") as portal:
        codes = print_code_for_martin(browser, portal)
        assert sign_up_with(portal.app.test_client(), codes, NEWCOMER).status_code == 302

        newcomer = logged_in_page(browser, portal, NEWCOMER, PASSWORD)
        waiting = newcomer.get_by_role("heading", level=1)
        assert waiting.inner_text() == "En attente de la confirmation de votre foyer"
        assert page_problems(newcomer, "rejoindre-attente") == []
        assert newcomer.request.get(portal.url + "/famille/coffre/export").status == 403

        parent = logged_in_page(browser, portal, FAMILY, DEMO_PASSWORD)
        request = parent.get_by_role("region", name=f"{NEWCOMER} demande à rejoindre votre foyer")
        assert "imprimé au guichet par Claire Dubois" in request.inner_text()
        assert page_problems(parent, "rejoindre-demande") == []
        request.get_by_role("button", name=f"Accepter {NEWCOMER}").click()
        parent.wait_for_url(portal.url + "/famille/")
        assert "La personne a rejoint votre foyer." in parent.content()
        assert parent.get_by_role("region", name=f"{NEWCOMER} demande à rejoindre").count() == 0

        newcomer.goto(portal.url + "/famille/")
        assert newcomer.get_by_role("heading", level=1).inner_text() == "Mon espace famille"
        assert newcomer.request.get(portal.url + "/famille/coffre/export").status == 200
