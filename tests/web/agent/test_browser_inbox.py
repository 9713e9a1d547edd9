"""The inbox and the supervision dashboard in headless Chromium: axe, a phone's width, claiming."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account, Service
from coffre.models import Foyer
from demo.seed import DEMO_PASSWORD
from procedures.models import ProcedureVersion
from tests.procedures.inbox.test_listing import add_task
from tests.web.agents import enrolled_secret, next_code
from tests.web.browser import Portal, axe_context, page_problems, serve_portal
from web.runtime import runtime

SUPERVISOR = "superviseur.ecoles@bellerive.example"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal with a dozen crèche tasks for the Petite enfance service, one late."""
    with serve_portal(tmp_path) as served:
        rt = runtime(served.app)
        with rt.sessions() as session:
            version = session.scalars(
                select(ProcedureVersion).where(ProcedureVersion.code == "creche")
            ).one()
            service = session.scalars(select(Service).where(Service.code == "petite-enfance")).one()
            foyers = session.scalars(select(Foyer).order_by(Foyer.id)).all()
            now = rt.clock.now()
            for n in range(12):
                due = now + timedelta(hours=n * 6 - 2)
                add_task(session, version, foyers[n % len(foyers)], service, now, due_at=due)
        yield served


def sign_in(page: Any, portal: Portal, email: str) -> None:
    with runtime(portal.app).sessions() as session:
        account = session.scalars(select(Account).where(Account.email == email)).one()
    secret = enrolled_secret(portal.app, account.id)
    page.goto(portal.url + "/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/connexion/second-facteur")
    page.locator("input[name=code]").fill(next_code(portal.app, account.id, secret))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(portal.url + "/agent/taches")


@pytest.mark.browser
def test_a_supervisor_filters_claims_and_reads_the_dashboard_on_any_screen(
    portal: Portal, browser: Any
) -> None:
    context = axe_context(browser)
    page = context.new_page()
    sign_in(page, portal, SUPERVISOR)
    assert page.locator("h1").inner_text() == "Tâches"
    assert page_problems(page, "agent-taches") == []

    page.get_by_label("Échéance").select_option("rouge")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**couleur=rouge**")
    assert "1 tâche" in page.locator("#resultats").inner_text()
    page.locator("table").get_by_role("button", name="Prendre").first.click()
    assert "La tâche est à vous" in page.locator(".fr-alert").inner_text()
    assert page_problems(page, "agent-taches-filtrees") == []

    page.get_by_role("link", name="Tableau de bord de supervision").click()
    page.wait_for_url(portal.url + "/agent/supervision")
    assert page.locator("[data-chiffre=retard]").inner_text() == "1"
    assert page_problems(page, "agent-supervision") == []
    context.close()
