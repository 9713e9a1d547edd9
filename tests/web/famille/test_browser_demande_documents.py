"""A parent registers a child whose document is missing, in headless Chromium (issue 25):
the PAI on the child's file fills the form, the missing vaccination record is added from the
request for that child, and the parent is back on the request with it ticked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.seed import DEMO_PASSWORD, demo_pdf
from tests.web.browser import DESKTOP, Portal, axe_context, page_problems, serve_portal

FAMILY = "famille.martin@bellerive.example"
CHILD = "Hugo Martin"  # the demo's Martins: Hugo has a PAI, and no vaccination record
CARNET = "Carnet de vaccination de l'enfant concerné"
CONSENT = "Je partage ce document avec le service"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    """The demo portal, embedded (the deployments are proven by the HTTP tests: the journey
    is the same on each, and a browser test costs a minute of the suite's budget)."""
    with serve_portal(tmp_path / "var") as served:
        yield served


def log_in(page: Any, base: str) -> None:
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")


def choose_the_child(page: Any, base: str) -> None:
    """Start the canteen registration for Hugo: his PAI comes from his file, to be checked."""
    page.goto(base + "/famille/demarches")
    page.get_by_role("button", name=re.compile("Commencer — Inscription périscolaire")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    page.get_by_label("Enfant concerné").select_option(label=CHILD)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    assert "Le PAI inscrit sur la fiche de votre enfant a été repris" in page.content()
    assert page.get_by_label(re.compile("Mon enfant a une allergie")).is_checked()
    details = page.get_by_label(re.compile("Précisions sur l'allergie ou le PAI"))
    assert details.input_value() == "Arachide et fruits à coque"
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/justificatifs$"))


@pytest.mark.browser
def test_a_missing_childs_document_is_added_from_the_request_and_comes_back_ticked(
    portal: Portal, browser: Any, tmp_path: Path
) -> None:
    carnet_file = tmp_path / "carnet-hugo.pdf"
    carnet_file.write_bytes(demo_pdf("Carnet de vaccination - Hugo"))
    context = axe_context(browser, DESKTOP)
    page = context.new_page()
    log_in(page, portal.url)
    choose_the_child(page, portal.url)
    step = page.url

    carnet = page.locator("fieldset", has=page.locator("legend", has_text=CARNET))
    assert "Votre coffre ne contient aucun document valide de ce type." in carnet.inner_text()
    carnet.get_by_role("button", name="Ajouter un document à mon coffre").click()
    page.wait_for_url(re.compile(r"/famille/coffre/ajouter\?"))
    kind = page.get_by_label("Type de document")
    person = page.get_by_label("Personne concernée (facultatif)")
    assert kind.locator("option:checked").inner_text() == "Carnet de vaccination"
    assert person.locator("option:checked").inner_text() == CHILD
    problems = page_problems(page, "demande-ajout-justificatif")
    page.get_by_label("Date d'émission").fill("2025-01-10")
    page.get_by_label("Fichier").set_input_files(str(carnet_file))
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
    assert sent.value.status == 201

    page.wait_for_url(re.compile(re.escape(step) + r"\?ajoute=\d+$"))
    carnet = page.locator("fieldset", has=page.locator("legend", has_text=CARNET))
    assert "aucun document valide" not in carnet.inner_text()
    assert f"carnet-hugo.pdf — {CHILD}" in carnet.inner_text()
    assert carnet.get_by_label(re.compile(CONSENT)).is_checked()
    problems += page_problems(page, "demande-justificatif-coche")
    context.close()

    assert problems == []
