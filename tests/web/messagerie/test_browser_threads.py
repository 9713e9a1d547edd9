"""A parent writes to the crèche service with a document of the vault, the service's agent
answers, the parent sees the answer and that the service read the message: in headless
Chromium on the demo portal, each page checked with axe-core at a phone's and a desktop's
width."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.seed import DEMO_PASSWORD
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems, serve_portal

PARENT = "famille.martin@bellerive.example"
AGENT = "agent.creche@bellerive.example"
SUBJECT = "Adaptation de Léa à la crèche"
BODY = "Bonjour, Léa pourra-t-elle commencer par des demi-journées ?"
ANSWER = "Bonjour, oui : la première semaine en demi-journées."


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the deployments are proven by the HTTP tests: the journey
    is the same on each, and a browser test costs a minute of the suite's budget)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def parent_writes(page: Any, portal: Portal) -> str:
    page.goto(portal.url + "/connexion")
    page.get_by_label("Adresse électronique").fill(PARENT)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(portal.url + "/famille/")
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Messages"
    ).click()
    page.wait_for_url(portal.url + "/famille/messages")
    assert page_problems(page, "messages-famille") == []
    page.get_by_role("link", name="Écrire à un service").click()
    page.get_by_label("Service").select_option(label="Petite enfance (Ville de Bellerive)")
    page.get_by_label("Objet").fill(SUBJECT)
    page.get_by_label("Votre message").fill(BODY)
    shared = page.locator("input[name=document]").first
    shared_label = page.locator(f"label[for={shared.get_attribute('id')}]").inner_text()
    page.locator(f"label[for={shared.get_attribute('id')}]").click()
    assert page_problems(page, "messages-famille-nouveau") == []
    page.get_by_role("button", name="Envoyer le message").click()
    page.wait_for_url("**/famille/messages/*")
    assert "Votre message a été envoyé au service." in page.locator(".fr-alert").inner_text()
    assert page.locator("h1").inner_text() == SUBJECT
    # The badges are written in capitals (DSFR): compare without case.
    assert "pas encore lu" in page.locator("article").inner_text().lower()
    assert page_problems(page, "messages-famille-fil") == []
    return shared_label


def agent_answers(page: Any, portal: Portal, shared_label: str) -> None:
    sign_in_agent_in_browser(page, portal.url, portal.app, AGENT)
    messages = page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Messages"
    )
    assert "1 non lu" in messages.inner_text().lower()
    messages.click()
    page.wait_for_url(portal.url + "/agent/messages")
    assert page_problems(page, "messages-agent") == []
    page.get_by_role("link", name=SUBJECT).click()
    assert BODY in page.locator("article").first.inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name=shared_label).click()
    assert download.value.suggested_filename.endswith(".pdf")
    page.get_by_label("Votre réponse à la famille").fill(ANSWER)
    page.get_by_role("button", name="Envoyer le message").click()
    assert "Votre réponse a été envoyée à la famille." in page.locator(".fr-alert").inner_text()
    assert page_problems(page, "messages-agent-fil") == []


@pytest.mark.browser
def test_a_parent_writes_to_a_service_and_reads_its_answer(portal: Portal, browser: Any) -> None:
    parent = axe_context(browser).new_page()
    shared_label = parent_writes(parent, portal)
    agent_context = axe_context(browser, accept_downloads=True)
    agent_answers(agent_context.new_page(), portal, shared_label)

    parent.reload()
    first, answer = parent.locator("article").all()
    assert "lu le " in first.inner_text().lower()
    assert ANSWER in answer.inner_text() and "Petite enfance" in answer.inner_text()
    parent.get_by_role("button", name="Retirer le partage").click()
    assert "Le service ne peut plus lire ce document." in parent.locator(".fr-alert").inner_text()
    assert "partage retiré le" in parent.locator("article").first.inner_text()
