"""Targeted news in headless Chromium on the demo portal: a supervisor composes a news item
for a school's families, sees how many it reaches, sends it; the worker e-mails it through a
real SMTP server, and a family opens the e-mail's link and reads it in its space."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from demo.seed import DEMO_PASSWORD, LILAS
from messagerie import news
from notifications import outbox
from notifications.outbox import MailSettings
from tests.fixtures import Mailbox
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems, serve_portal
from web.runtime import runtime

SUPERVISOR = "superviseur.ecoles@bellerive.example"
FAMILY = "famille.martin@bellerive.example"  # Léa and Hugo go to the Lilas school
TITLE = "Classe verte des Lilas"


@pytest.fixture
def portal(tmp_path: Path, smtp_server: Controller) -> Iterator[Portal]:
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port)}
    with serve_portal(tmp_path / "var", smtp) as served:
        yield served


def run_worker(portal: Portal) -> None:
    """What the worker's news and outbox jobs do: queue the news' e-mails, then send them."""
    rt = runtime(portal.app)
    links = news.Links(base_url=rt.settings.base_url, secret_key=rt.settings.secret_key)
    with rt.sessions() as session:
        while news.mail_pending(session, rt.clock, links):
            pass
        outbox.send_due(session, rt.clock, MailSettings(**dataclasses.asdict(rt.settings.smtp)))


def compose(page: Any, base: str) -> None:
    page.get_by_role("link", name="Actualités").first.click()
    page.get_by_role("link", name="Nouvelle actualité").click()
    page.wait_for_url(base + "/agent/actualites/nouvelle")
    page.get_by_label("Titre").fill(TITLE)
    page.get_by_label("Texte").fill("Départ lundi à 8 h 30.\n\nPensez aux bottes.")
    # Choosing a criterion asks for the count at once (htmx): no click on "Prévisualiser".
    page.get_by_label("Enfants scolarisés à l'école").select_option(label=LILAS)
    page.locator("[data-familles]").wait_for()


@pytest.mark.browser
def test_a_supervisor_sends_news_to_a_school_and_a_family_reads_it(
    portal: Portal, browser: Any, mailbox: Mailbox
) -> None:
    agent = axe_context(browser).new_page()
    sign_in_agent_in_browser(agent, portal.url, portal.app, SUPERVISOR)
    compose(agent, portal.url)
    # The Martins, and Jade's two homes (garde alternée): three foyers.
    assert agent.locator("[data-familles]").inner_text() == "3 familles destinataires"
    assert page_problems(agent, "actualites-redaction") == []
    agent.get_by_role("button", name="Envoyer à 3 familles").click()
    agent.wait_for_url(re.compile(r".*/agent/actualites/\d+$"))
    assert agent.locator("h1").inner_text() == TITLE
    assert "Familles destinataires : 3" in agent.locator("main").inner_text()

    run_worker(portal)
    (message,) = [m for m in mailbox.to(FAMILY) if TITLE in m["Subject"]]
    link = re.search(r"https?://\S+/famille/actualites/\d+", message.get_content())
    assert link is not None

    family = axe_context(browser).new_page()
    family.goto(portal.url + "/connexion")
    family.get_by_label("Adresse électronique").fill(FAMILY)
    family.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    family.get_by_role("button", name="Se connecter").click()
    family.wait_for_url(portal.url + "/famille/")
    family.get_by_role("link", name="Actualités").first.click()
    assert family.get_by_text("Nouveau").is_visible()
    assert page_problems(family, "actualites-famille") == []
    family.goto(portal.url + urlsplit(link.group(0)).path)
    assert family.locator("h1").inner_text() == TITLE
    assert family.get_by_text("Pensez aux bottes.").is_visible()
    assert page_problems(family, "actualites-lecture") == []
