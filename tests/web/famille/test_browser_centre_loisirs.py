"""The holiday-centre registration walked in headless Chromium on the demo portal: the Benali
family registers Inès for the week the demo's holiday centre is open; the school service's
agent sees the places left and validates; once the registrations job has run, the family
reads that the week was booked. Pages checked with axe-core."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from coffre.clock import local_today
from reservations import registrations
from tests.web import journeys
from tests.web.browser import page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.benali@bellerive.example"
AGENT = "agent.ecoles@bellerive.example"  # Affaires scolaires, which runs the centre


@pytest.mark.browser
def test_a_family_registers_for_a_holiday_week_and_the_agent_validates_it(
    tmp_path: Path, browser: Any
) -> None:
    problems: journeys.Problems = {}
    with serve_portal(tmp_path / "var") as portal:
        today = local_today(runtime(portal.app).clock)
        week = today - timedelta(days=today.weekday()) + timedelta(weeks=3, days=2)  # seed's
        family_context, agent_context = journeys.desks(browser)
        family, agent = family_context.new_page(), agent_context.new_page()

        journeys.start(family, portal.url, FAMILY, "Centre de loisirs")
        family.get_by_label("Enfant à inscrire").select_option(label="Inès Benali")
        family.get_by_label("Première semaine souhaitée").fill(week.isoformat())
        weeks = family.get_by_role("group", name="Nombre de semaines qui se suivent")
        weeks.get_by_text("1 semaine", exact=True).click()
        problems["formulaire"] = page_problems(family, "vacances-formulaire")
        number = journeys.send(family).number

        journeys.open_from_inbox(agent, portal, AGENT, number)
        places = agent.locator("section", has_text="Places au centre de loisirs").inner_text()
        assert "réservable" in places.casefold() and "2 places restantes." in places
        choice = "Valider : réserver les semaines où il reste de la place"
        journeys.decide(agent, "Décision", choice, problems, "vacances-agent-demande")
        with runtime(portal.app).sessions() as session:  # the worker's job, run once
            registrations.apply_closed(session, runtime(portal.app).clock)

        shown = journeys.read_decision(family, portal.url, number, problems, "vacances-famille")
        shown = " ".join(shown.split())
        assert "Le centre de loisirs a pris en compte votre inscription." in shown
        assert re.search(r"\d jour\(s\) réservé\(s\) à « Accueil de loisirs des vacances »", shown)
        family_context.close()
        agent_context.close()

    assert problems == {k: [] for k in problems}, problems
