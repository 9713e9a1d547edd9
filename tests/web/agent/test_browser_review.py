"""An agent reviews a crèche request with the family, in two headless Chromium contexts.

The agent (password and TOTP) filters the inbox, claims the task, views a granted document
inline, refuses another with a reason and asks the family for a new one; the family, in its
own browser context, reads what was asked, deposits a new document and shares it in its
answer; the agent validates it, completes the steps with the accepting outcome, and the
family sees the place offered. The main pages are checked with axe-core at 360 and 1280 px
and saved in tests/artifacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import Account
from coffre.clock import local_today
from coffre.models import Document, Foyer
from demo.seed import DEMO_PASSWORD, demo_pdf
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import (
    Portal,
    axe_context,
    click_below_a_frame,
    page_problems,
    serve_portal,
)
from web.runtime import runtime

AGENT = "agent.creche@bellerive.example"  # Petite enfance, the service handling the crèche
FAMILY = "famille.nguyen@bellerive.example"
OTHER_FAMILY = "famille.benali@bellerive.example"
ADDRESS, INCOME = "Justificatif de domicile", "Avis d'imposition"
ASKED = "La facture est illisible : merci d'en déposer une plus récente et lisible."


@dataclass(frozen=True)
class Case:
    """The served demo portal and the Nguyen family's submitted crèche request."""

    portal: Portal
    demande_id: int
    number: str


def submit_creche(portal: Portal, email: str) -> Demande:
    """Submit a crèche request for a child of the family, with its three demo documents."""
    rt = runtime(portal.app)
    ctx = EngineContext(clock=rt.clock, vault=rt.vault)
    with rt.sessions() as session:
        account = session.scalars(select(Account).where(Account.email == email)).one()
        assert account.foyer_id is not None
        foyer = session.get(Foyer, account.foyer_id)
        assert foyer is not None
        documents = session.scalars(
            select(Document).where(Document.foyer_id == foyer.id, Document.type_code != "facture")
        ).all()
        assert {d.type_code for d in documents} == {
            "justificatif_domicile", "avis_imposition", "carnet_vaccination",
        }  # fmt: skip
        # The child the demo's vaccination record concerns.
        (child,) = (m for d in documents for m in foyer.members if m.id == d.member_id)
        actor = FamilyActor(account.id, foyer.id)
        draft = demandes.create_draft(session, ctx, actor, "creche")
        form = {"enfant": str(child.id), "date_entree": "2027-09-06", "jours": "4"}
        submitted = demandes.submit(session, ctx, actor, draft.id, form, [d.id for d in documents])
        session.commit()
        session.expunge(submitted)
        return submitted


@pytest.fixture
def case(tmp_path: Path, deployed: dict[str, str]) -> Iterator[Case]:
    """The demo portal, on each deployment, with the Nguyens' and the Benalis' crèche requests."""
    with serve_portal(tmp_path / "var", deployed) as portal:
        demande = submit_creche(portal, FAMILY)
        submit_creche(portal, OTHER_FAMILY)
        assert demande.number
        yield Case(portal, demande.id, demande.number)


def text_of(locator: Any) -> str:
    """An element's text as written in the page (badges are shown in capitals), on one line."""
    return " ".join(str(locator.text_content()).split())


def flash_text(page: Any) -> str:
    return text_of(page.locator(".fr-alert").first)


def document_row(page: Any, label: str, state: str) -> Any:
    """The row of the request's documents table for one document type in one check state."""
    badge = page.locator(".fr-badge", has_text=re.compile(f"^{state}$", re.I))
    return section(page, "justificatifs").locator("tbody tr", has_text=label).filter(has=badge)


def section(page: Any, heading_id: str) -> Any:
    """A page's section, by the id of its heading."""
    return page.locator(f"section[aria-labelledby={heading_id}]")


def claim_from_the_inbox(page: Any, case: Case, problems: dict[str, list[Any]]) -> None:
    base = case.portal.url
    sign_in_agent_in_browser(page, base, case.portal.app, AGENT)
    page.goto(base + "/agent/taches")
    assert "2 tâches" in page.locator("#resultats").inner_text()
    page.get_by_label("Numéro de demande ou nom de la famille").fill("Nguyen")
    page.get_by_label("Démarche").select_option(label="Pré-inscription en crèche")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url(re.compile(r"q=Nguyen"))
    assert "1 tâche" in page.locator("#resultats").inner_text()
    row = page.locator("table tbody tr")
    assert row.count() == 1 and "Famille Nguyen" in row.inner_text()
    row.get_by_role("button", name=re.compile("^Prendre")).click()
    assert "La tâche est à vous" in flash_text(page)
    page.get_by_role("link", name=re.compile("^Mes tâches")).click()
    mine = page.locator("table tbody tr", has_text=case.number)
    assert "Claire Dubois" in mine.inner_text()  # the agent's name, as the assignee

    mine.get_by_role("link", name=case.number).click()
    page.wait_for_url(f"{base}/agent/demandes/{case.demande_id}")
    assert case.number in page.locator("h1").inner_text()
    steps = section(page, "etapes")
    assert "vous l'avez prise" in steps.inner_text()
    # The step's title and state come first on screen, then its forms, as in the focus order.
    title = steps.locator(".fr-card__title").first.bounding_box()
    completing = steps.get_by_role("button", name="Terminer l'étape").bounding_box()
    assert title["y"] < completing["y"]
    problems["agent-demande"] = page_problems(page, "agent-revue-demande")


def view_income_inline(page: Any, case: Case, problems: dict[str, list[Any]]) -> None:
    """The income notice opens in the page's PDF frame, read from the request's content route."""
    content = re.compile(rf"/agent/demandes/{case.demande_id}/documents/\d+/contenu$")
    link = document_row(page, INCOME, "À vérifier").get_by_role("link")
    with page.expect_response(content) as shown:
        link.click()
    response = shown.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    frame = page.locator("iframe.portail-apercu")
    assert frame.get_attribute("src") == urlpath(response.url)
    assert frame.get_attribute("title") == f"Aperçu du document : {INCOME}"
    fallback = page.get_by_role("link", name="Ouvrir dans un nouvel onglet")
    assert fallback.get_attribute("href") == urlpath(response.url)
    assert page.locator("h1").inner_text() == INCOME
    problems["agent-document"] = page_problems(page, "agent-revue-document")
    page.get_by_role("link", name=re.compile(f"Retour à la demande {case.number}")).click()


def urlpath(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def refuse_and_ask(page: Any, case: Case) -> None:
    link = document_row(page, ADDRESS, "À vérifier").get_by_role("link")
    assert re.fullmatch(
        rf"Consulter et vérifier — {ADDRESS} \(Émis le \d\d/\d\d/\d{{4}}\)", text_of(link)
    )
    link.click()
    page.get_by_label("Motif", exact=True).select_option(label="Illisible")
    page.get_by_label(re.compile("^Commentaire")).fill("Le montant et l'adresse sont illisibles.")
    click_below_a_frame(page, page.get_by_role("button", name="Marquer non valide"))
    page.wait_for_url(f"{case.portal.url}/agent/demandes/{case.demande_id}")
    assert "Le justificatif est marqué non valide." in flash_text(page)
    assert document_row(page, ADDRESS, "Non valide").count() == 1

    asked = page.get_by_role("checkbox", name=ADDRESS)
    assert asked.is_checked()  # required by the procedure and no longer provided valid
    assert not page.get_by_role("checkbox", name=INCOME).is_checked()
    page.get_by_role("textbox", name=re.compile("^Message à la famille")).fill(ASKED)
    page.get_by_role("button", name="Envoyer à la famille").click()
    page.wait_for_url(f"{case.portal.url}/agent/demandes/{case.demande_id}")
    assert "attend sa réponse" in flash_text(page)
    assert text_of(page.locator("main .fr-badges-group")) == "Statut : En attente de la famille"


def family_logs_in(page: Any, base: str) -> None:
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")


def open_the_request(page: Any, case: Case) -> None:
    """From the family's home: "Mes demandes", then the request's row."""
    page.goto(case.portal.url + "/famille/")
    page.get_by_role("link", name="Mes demandes").first.click()
    page.wait_for_url(case.portal.url + "/famille/demandes")
    page.locator("tr", has_text=case.number).get_by_role("link").first.click()
    page.wait_for_url(f"{case.portal.url}/famille/demandes/{case.demande_id}")


def family_answers(
    page: Any, case: Case, new_file: Path, issued: date, problems: dict[str, list[Any]]
) -> None:
    open_the_request(page, case)
    main = text_of(page.locator("main"))
    assert case.number in main and "En attente de votre réponse" in main
    asked = text_of(section(page, "repondre").locator(".fr-callout"))
    assert ASKED in asked and f"Justificatifs à fournir : {ADDRESS}." in asked
    refused = text_of(section(page, "partages"))
    assert "Non valide Motif du refus : illisible — Le montant et l'adresse sont illisibles." in (
        refused
    )
    problems["famille-demande"] = page_problems(page, "famille-demande-attente")

    page.get_by_role("link", name="Ajouter un document à mon coffre").click()
    page.get_by_label("Type de document").select_option(label=ADDRESS)
    page.get_by_label("Date d'émission").fill(issued.isoformat())
    page.get_by_label("Fichier").set_input_files(str(new_file))
    page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
    # Back to the request, the new document already ticked in the answer's form.
    page.wait_for_url(re.compile(rf"/famille/demandes/{case.demande_id}\?ajoute=\d+$"))
    page.get_by_label("Votre message").fill("Voici une facture d'eau plus récente.")
    assert page.get_by_label(f"{ADDRESS} — Tout le foyer — {new_file.name}").is_checked()
    page.get_by_role("button", name="Envoyer ma réponse").click()
    page.wait_for_url(f"{case.portal.url}/famille/demandes/{case.demande_id}")
    assert "Votre réponse a été envoyée." in flash_text(page)
    assert new_file.name in section(page, "partages").inner_text()


def validate_and_accept(
    page: Any, case: Case, issued: date, problems: dict[str, list[Any]]
) -> None:
    page.reload()
    assert "Voici une facture d'eau plus récente." in section(page, "echanges").inner_text()
    assert document_row(page, ADDRESS, "Non valide").count() == 1
    fresh = document_row(page, ADDRESS, "À vérifier")
    assert fresh.count() == 1
    # Its link says which of the two address documents it opens.
    assert text_of(fresh.get_by_role("link")).endswith(f"(Émis le {issued:%d/%m/%Y})")
    fresh.get_by_role("link").click()
    click_below_a_frame(page, page.get_by_role("button", name="Marquer valide"))
    page.wait_for_url(f"{case.portal.url}/agent/demandes/{case.demande_id}")
    assert "Le justificatif est marqué valide." in flash_text(page)
    assert document_row(page, ADDRESS, "Valide").count() == 1
    problems["agent-demande-complete"] = page_problems(page, "agent-revue-demande-complete")

    page.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in flash_text(page)
    assert "Décision de la commission" in section(page, "etapes").inner_text()
    page.get_by_role("button", name="Prendre cette étape").click()
    assert "Vous avez pris cette étape." in flash_text(page)
    decision = page.get_by_role("group", name="Décision de la commission")
    decision.get_by_text("Proposer une place", exact=True).click()
    assert decision.get_by_label("Proposer une place").is_checked()
    page.get_by_label(re.compile("^Motif communiqué à la famille")).fill(
        "Place à la crèche des Lilas."
    )
    page.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in flash_text(page)
    assert "Accepter la place proposée" in section(page, "etapes").inner_text()


@pytest.mark.browser
def test_an_agent_reviews_a_request_with_the_family_in_another_browser(
    case: Case, browser: Any, tmp_path: Path
) -> None:
    new_file = tmp_path / "facture-eau-aout.pdf"
    new_file.write_bytes(demo_pdf("Facture d'eau - Nguyen"))
    issued = local_today(runtime(case.portal.app).clock) - timedelta(days=5)  # the served clock
    problems: dict[str, list[Any]] = {}
    agent_context, family_context = axe_context(browser), axe_context(browser)
    for context in (agent_context, family_context):
        context.set_default_timeout(15_000)
    agent, family = agent_context.new_page(), family_context.new_page()

    claim_from_the_inbox(agent, case, problems)
    view_income_inline(agent, case, problems)
    refuse_and_ask(agent, case)
    family_logs_in(family, case.portal.url)
    family_answers(family, case, new_file, issued, problems)
    validate_and_accept(agent, case, issued, problems)

    family.reload()
    main = text_of(family.locator("main"))
    assert "En attente de votre réponse" not in main and "En cours d'instruction" in main
    assert "Accepter la place proposée" in text_of(section(family, "a-vous"))
    assert f"{ADDRESS} — {new_file.name} Valide" in text_of(section(family, "partages"))
    problems["famille-demande-place"] = page_problems(family, "famille-demande-place")
    family.get_by_role("button", name="Accepter la place").click()
    assert text_of(family.locator("main .fr-badge").first) == "Acceptée"
    agent_context.close()
    family_context.close()

    assert problems == {k: [] for k in problems}, problems
