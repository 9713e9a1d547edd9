"""The holiday-centre registration walked in headless Chromium on the demo portal: the Benali
family registers Inès for the week the demo's holiday centre is open; the school service's
agent sees the places left and validates; once the registrations job has run, the family
reads that the week was booked. Pages checked with axe-core."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from coffre.clock import local_today
from demo.seed import DEMO_PASSWORD
from reservations import registrations
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import axe_context, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.benali@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, which runs the centre
CONSENT = "Je partage ce document avec le service"


def file_the_request(page: Any, base: str, week: date, problems: dict[str, list[Any]]) -> str:
    """From the catalogue to the confirmation; the request's number."""
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")
    page.goto(base + "/famille/demarches")
    page.get_by_role("button", name=re.compile("Commencer — Centre de loisirs")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    page.get_by_label("Enfant à inscrire").select_option(label="Inès Benali")
    page.get_by_label("Première semaine souhaitée").fill(week.isoformat())
    weeks = page.get_by_role("group", name="Nombre de semaines qui se suivent")
    weeks.get_by_text("1 semaine", exact=True).click()
    problems["formulaire"] = page_problems(page, "vacances-formulaire")
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
def test_a_family_registers_for_a_holiday_week_and_the_agent_validates_it(
    tmp_path: Path, browser: Any
) -> None:
    problems: dict[str, list[Any]] = {}
    with serve_portal(tmp_path / "var") as portal:
        today = local_today(runtime(portal.app).clock)
        week = today - timedelta(days=today.weekday()) + timedelta(weeks=3, days=2)  # seed's
        family_context, agent_context = axe_context(browser), axe_context(browser)
        for context in (family_context, agent_context):
            context.set_default_timeout(15_000)
        family, agent = family_context.new_page(), agent_context.new_page()

        number = file_the_request(family, portal.url, week, problems)

        sign_in_agent_in_browser(agent, portal.url, portal.app, AGENT)
        agent.goto(portal.url + "/agent/taches")
        agent.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
        agent.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
        places = agent.locator("section", has_text="Places au centre de loisirs").inner_text()
        assert "réservable" in places.casefold() and "2 places restantes." in places
        agent.get_by_role("button", name="Prendre cette étape").click()
        decision = agent.get_by_role("group", name="Décision")
        decision.get_by_text(
            "Valider : réserver les semaines où il reste de la place", exact=True
        ).click()
        problems["agent-demande"] = page_problems(agent, "vacances-agent-demande")
        agent.get_by_role("button", name="Terminer l'étape").click()
        assert "L'étape est terminée." in agent.locator(".fr-alert").first.inner_text()
        with runtime(portal.app).sessions() as session:  # the worker's job, run once
            registrations.apply_closed(session, runtime(portal.app).clock)

        family.goto(portal.url + "/famille/demandes")
        family.locator("tr", has_text=number).get_by_role("link").first.click()
        assert str(family.locator("main .fr-badge").first.text_content()).strip() == "Acceptée"
        shown = " ".join(family.locator("main").inner_text().split())
        assert "Le centre de loisirs a pris en compte votre inscription." in shown
        assert re.search(r"\d jour\(s\) réservé\(s\) à « Accueil de loisirs des vacances »", shown)
        problems["famille-demande"] = page_problems(family, "vacances-famille-demande")
        family_context.close()
        agent_context.close()

    assert problems == {k: [] for k in problems}, problems
