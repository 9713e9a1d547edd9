"""The care plan (PAI) walked in headless Chromium on the demo portal: the Martin family
files Hugo's signed plan (his school is read on his file) and the school doctor validates
it; the family reads the decision and the Lilas team the plan is shared with."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account
from coffre.clock import local_today
from coffre.models import FoyerMember
from coffre.vault import Upload
from demo.seed import demo_pdf
from tests.web import journeys
from tests.web.browser import Portal, page_problems, serve_portal
from web.runtime import runtime

FAMILY = "famille.martin@bellerive.example"
DOCTOR = "medecin.scolaire@bellerive.example"
CHILD = "Hugo Martin"


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


@pytest.mark.browser
def test_a_family_files_a_care_plan_and_the_school_doctor_validates_it(
    portal: Portal, browser: Any
) -> None:
    problems: journeys.Problems = {}
    family_context, agent_context = journeys.desks(browser)
    family, agent = family_context.new_page(), agent_context.new_page()

    journeys.start(family, portal.url, FAMILY, "Projet d'accueil")
    family.get_by_label("Enfant concerné").select_option(label=CHILD)
    reason = family.get_by_role("group", name="Le PAI concerne")
    reason.get_by_text("Une allergie alimentaire", exact=True).click()
    problems["formulaire"] = page_problems(family, "pai-formulaire")
    number = journeys.send(family).number

    review = journeys.open_from_inbox(agent, portal, DOCTOR, number)
    assert "Groupe scolaire des Lilas" in review  # read on Hugo's file
    choice = "Valider le PAI et le transmettre aux équipes de l'école"
    journeys.decide(agent, "Décision", choice, problems, "pai-agent-demande")

    shown = journeys.read_decision(family, portal.url, number, problems, "pai-famille-demande")
    assert "Équipe cantine et périscolaire des Lilas (Groupe scolaire des Lilas)" in shown
    assert "Jean-Jaurès" not in shown
    family_context.close()
    agent_context.close()

    assert problems == {k: [] for k in problems}, problems
