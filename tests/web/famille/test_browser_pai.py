"""The care plan (PAI) walked in headless Chromium on the demo portal: the Martin family
files Hugo's signed plan (his school is read on his file) and the school doctor validates
it; the family reads the decision and the Lilas team the plan is shared with."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account
from coffre.clock import local_today
from coffre.models import FoyerMember
from coffre.vault import Upload
from demo.seed import DEMO_PASSWORD, demo_pdf
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.martin@bellerive.example"
DOCTOR = "medecin.scolaire@bellerive.example"
CHILD = "Hugo Martin"
CONSENT = "Je partage ce document avec le service"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded, with Hugo's signed plan already in the Martins' vault."""
    with serve_portal(tmp_path / "var") as served:
        rt = runtime(served.app)
        with rt.sessions() as session:
            account = session.scalars(select(Account).where(Account.email == FAMILY)).one()
            hugo = session.scalars(
                select(FoyerMember).where(
                    FoyerMember.foyer_id == account.foyer_id, FoyerMember.first_name == "Hugo"
                )
            ).one()
            upload = Upload(
                foyer_id=hugo.foyer_id, type_code="pai_medical", filename="pai-hugo.pdf",
                stream=io.BytesIO(demo_pdf("pai-hugo.pdf")), issued_on=local_today(rt.clock),
                member_id=hugo.id,
            )  # fmt: skip
            rt.vault.deposit(session, upload)
        yield served


def file_the_plan(page: Any, base: str, problems: dict[str, list[Any]]) -> str:
    """From the catalogue to the confirmation; the request's number."""
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")
    page.goto(base + "/famille/demarches")
    page.get_by_role("button", name=re.compile(r"Commencer — Projet d'accueil")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    page.get_by_label("Enfant concerné").select_option(label=CHILD)
    reason = page.get_by_role("group", name="Le PAI concerne")
    reason.get_by_text("Une allergie alimentaire", exact=True).click()
    problems["formulaire"] = page_problems(page, "pai-formulaire")
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
    sign_in_agent_in_browser(page, base, portal.app, DOCTOR)
    page.goto(base + "/agent/taches")
    page.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
    page.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
    assert "Groupe scolaire des Lilas" in page.locator("main").inner_text()
    page.get_by_role("button", name="Prendre cette étape").click()
    decision = page.get_by_role("group", name="Décision")
    decision.get_by_text("Valider le PAI et le transmettre aux équipes de l'école").click()
    problems["agent-demande"] = page_problems(page, "pai-agent-demande")
    page.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in page.locator(".fr-alert").first.inner_text()


@pytest.mark.browser
def test_a_family_files_a_care_plan_and_the_school_doctor_validates_it(
    portal: Portal, browser: Any
) -> None:
    problems: dict[str, list[Any]] = {}
    family_context, agent_context = axe_context(browser), axe_context(browser)
    for context in (family_context, agent_context):
        context.set_default_timeout(15_000)
    family, agent = family_context.new_page(), agent_context.new_page()

    number = file_the_plan(family, portal.url, problems)
    validate(agent, portal, number, problems)

    family.goto(portal.url + "/famille/demandes")
    family.locator("tr", has_text=number).get_by_role("link").first.click()
    badge = family.locator("main .fr-badge").first.text_content()
    assert str(badge).strip() == "Acceptée"
    shown = family.locator("main").inner_text()
    assert "Équipe cantine et périscolaire des Lilas (Groupe scolaire des Lilas)" in shown
    assert "Jean-Jaurès" not in shown
    problems["famille-demande"] = page_problems(family, "pai-famille-demande")
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
