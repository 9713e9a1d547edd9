"""A request's journey in the browser, step by step, shared by the catalogue's browser tests:
a demo family starts a procedure from « Démarches » and sends it, the service's agent takes
the step from the inbox and decides, the family reads the decision on its request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from demo.seed import DEMO_PASSWORD
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems

CONSENT = "Je partage ce document avec le service"
STEP = re.compile(r"/famille/demandes/\d+/(formulaire|justificatifs|recapitulatif)$")

Problems = dict[str, list[Any]]


@dataclass(frozen=True)
class Sent:
    number: str  # the request's number, as the confirmation gives it
    documents: str  # what the documents step said ("" when the procedure skipped it)


def desks(browser: Any) -> tuple[Any, Any]:
    """The family's and the agent's browser contexts (French, axe-ready, 15 s per step)."""
    contexts = axe_context(browser), axe_context(browser)
    for context in contexts:
        context.set_default_timeout(15_000)
    return contexts


def start(page: Any, base: str, family: str, title: str) -> None:
    """The family signs in and starts the procedure titled `title`: its form is open."""
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(family)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")
    page.goto(base + "/famille/demarches")
    page.get_by_role("button", name=re.compile("Commencer — " + re.escape(title))).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))


def send(page: Any, share: bool = True) -> Sent:
    """From the filled form to the confirmation: on the documents step the first document
    the vault offers is shared (`share`), then the request is sent."""
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(STEP)
    documents = ""
    if page.url.endswith("/justificatifs"):
        documents = page.locator("main").inner_text()
        if share:
            page.locator("label", has_text=CONSENT).first.click()  # DSFR draws the box there
        page.get_by_role("button", name="Continuer").click()
        page.wait_for_url(re.compile(r"/famille/demandes/\d+/recapitulatif$"))
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/confirmation$"))
    found = re.search(r"Numéro de demande : (\S+)", page.locator("main").inner_text())
    assert found
    return Sent(found.group(1), documents)


def open_from_inbox(page: Any, portal: Portal, agent: str, number: str) -> str:
    """The agent signs in and opens the request from the task list: the page's text."""
    sign_in_agent_in_browser(page, portal.url, portal.app, agent)
    page.goto(portal.url + "/agent/taches")
    page.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
    page.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
    return str(page.locator("main").inner_text())


def decide(page: Any, group: str, choice: str, problems: Problems, name: str) -> None:
    """The agent takes the step, chooses `choice` in the `group` of its form (the page checked
    by axe then) and completes it."""
    page.get_by_role("button", name="Prendre cette étape").click()
    page.get_by_role("group", name=group).get_by_text(choice, exact=True).click()
    problems[name] = page_problems(page, name)
    page.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in page.locator(".fr-alert").first.inner_text()


def read_decision(page: Any, base: str, number: str, problems: Problems, name: str) -> str:
    """The family opens the request from its list (checked by axe): its status badge must say
    « Acceptée »; the page's text."""
    page.goto(base + "/famille/demandes")
    page.locator("tr", has_text=number).get_by_role("link").first.click()
    badge = page.locator("main .fr-badge").first.text_content()  # shown in capitals
    assert str(badge).strip() == "Acceptée"
    problems[name] = page_problems(page, name)
    return str(page.locator("main").inner_text())
