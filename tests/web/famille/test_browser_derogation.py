"""School outside the catchment area walked in headless Chromium on the demo portal: the
Benali family (avenue de la Gare, Jean-Jaurès' secteur) asks the Lilas for Inès with
another reason, no document asked; the commission's morning comes (the worker fires the
timer); the school service's agent records the commission's decision. The agent's page is
checked with axe-core at 360 and 1280 px and saved in tests/artifacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from demo.seed import DEMO_PASSWORD
from procedures import tasks
from procedures.models import Demande, DemandeStatus
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import MovableClock, Portal, axe_context, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.benali@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, the service handling it


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the HTTP test proves the journey's steps on each
    deployment; a browser test costs a minute of the suite's budget)."""
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
    page.get_by_role("button", name=re.compile("Commencer — Dérogation scolaire")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    page.get_by_label("Enfant concerné").select_option(label="Inès Benali")
    for group, choice in (
        ("École demandée", "Groupe scolaire des Lilas (maternelle et élémentaire)"),
        ("Classe de l'enfant à la rentrée", "Élémentaire (du CP au CM2)"),
        ("Motif de la demande", "Autre motif"),
    ):
        page.get_by_role("group", name=group).get_by_text(choice, exact=True).click()
    page.get_by_label("Précisions pour la commission").fill("Nous déménageons aux Lilas en mars.")
    problems["formulaire"] = page_problems(page, "derogation-formulaire")
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/justificatifs$"))
    assert "ne demandent aucun justificatif" in page.locator("main").inner_text()
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/recapitulatif$"))
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/confirmation$"))
    found = re.search(r"Numéro de demande : (\S+)", page.locator("main").inner_text())
    assert found
    return found.group(1)


def commission_meets(portal: Portal, number: str) -> None:
    """The portal's clock moves to the commission's morning and the worker's timer pass runs."""
    rt = runtime(portal.app)
    with rt.sessions() as session:
        demande = session.scalars(select(Demande).where(Demande.number == number)).one()
        assert demande.wakes_at is not None
        clock = rt.clock
        assert isinstance(clock, MovableClock)
        clock.advance(demande.wakes_at - clock.now() + timedelta(minutes=1))
        assert tasks.fire_timers(session, rt.engine_context) == 1


def decide(page: Any, portal: Portal, number: str, problems: dict[str, list[Any]]) -> None:
    base = portal.url
    sign_in_agent_in_browser(page, base, portal.app, AGENT)
    page.goto(base + "/agent/taches")
    page.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
    page.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
    assert "Nous déménageons aux Lilas en mars." in page.locator("main").inner_text()
    page.get_by_role("button", name="Prendre cette étape").click()
    decision = page.get_by_role("group", name="Décision de la commission")
    decision.get_by_text("Dérogation accordée", exact=True).click()
    problems["agent-demande"] = page_problems(page, "derogation-agent-demande")
    page.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in page.locator(".fr-alert").first.inner_text()


@pytest.mark.browser
def test_a_family_asks_for_another_school_and_the_agent_records_the_commission_s_decision(
    portal: Portal, browser: Any
) -> None:
    problems: dict[str, list[Any]] = {}
    family_context, agent_context = axe_context(browser), axe_context(browser)
    for context in (family_context, agent_context):
        context.set_default_timeout(15_000)

    number = file_the_request(family_context.new_page(), portal.url, problems)
    commission_meets(portal, number)
    decide(agent_context.new_page(), portal, number, problems)
    family_context.close()
    agent_context.close()

    with runtime(portal.app).sessions() as session:
        demande = session.scalars(select(Demande).where(Demande.number == number)).one()
        assert demande.status is DemandeStatus.ACCEPTEE
    assert problems == {k: [] for k in problems}, problems
