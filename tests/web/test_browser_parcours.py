"""A new family's whole journey in headless Chromium, on a real server and a real SMTP server.

Sign up, activate from the e-mail, log in, add a child, deposit documents (one refused),
pre-register the child at the crèche reusing a vault document with consent, submit, follow
the request. Each main page is saved at 360 and 1280 px in tests/artifacts and checked with
axe-core (no serious or critical violation) and for horizontal scrolling.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from demo.seed import demo_pdf
from notifications import outbox
from notifications.outbox import MailSettings
from tests.fixtures import Mailbox
from tests.web.browser import DESKTOP, Portal, axe_context, page_problems, serve_portal
from web.runtime import runtime

EMAIL = "claire.lefevre@example.org"
PASSWORD = "une phrase de passe assez longue"
CHILD = "Capucine Lefèvre"
SERVICE = "Petite enfance"  # the demo town's service handling the crèche
CONSENT = f"Je partage ce document avec le service {SERVICE} pour cette demande"
REFUSED = "Ce format de fichier n'est pas accepté."


@pytest.fixture
def portal(tmp_path: Path, smtp_server: Controller, deployed: dict[str, str]) -> Iterator[Portal]:
    """The demo portal on each deployment, sending its e-mail to the test SMTP server."""
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port)}
    with serve_portal(tmp_path / "var", smtp | deployed) as served:
        yield served


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    contents = {
        "bulletin.pdf": b"Ceci est un simple texte, pas un PDF.\n",  # refused: its content type
        "facture-eau.pdf": demo_pdf("Facture d'eau - Lefevre"),
        "avis-impot-2026.pdf": demo_pdf("Avis d'imposition 2026 - Lefevre"),
        "carnet-capucine.pdf": demo_pdf("Carnet de vaccination - Capucine"),
    }
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
    return {name: tmp_path / name for name in contents}


def deliver_mail(portal: Portal) -> int:
    """What the worker's outbox job does: send the queued e-mails over SMTP."""
    rt = runtime(portal.app)
    mail = MailSettings(**dataclasses.asdict(rt.settings.smtp))
    with rt.sessions() as session:
        return outbox.send_due(session, rt.clock, mail)


class Journey:
    """One browser tab going through the portal, checking each main page it lands on."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base
        self.problems: dict[str, list[Any]] = {}
        self.checked: list[str] = []

    def check(self, name: str) -> None:
        """Screenshot the page at both widths and note its accessibility problems."""
        self.checked.append(name)
        found = page_problems(self.page, f"parcours-{name}")
        if found:
            self.problems[f"{name} ({self.page.url})"] = found

    def heading(self) -> str:
        return str(self.page.locator("h1").first.inner_text()).strip()

    def deposit(self, type_label: str, issued_on: str, path: Path, member: str = "") -> Any:
        """Fill the vault's deposit form and send it; returns the POST's response."""
        page = self.page
        page.get_by_label("Type de document").select_option(label=type_label)
        if member:
            page.get_by_label("Personne concernée (facultatif)").select_option(label=member)
        page.get_by_label("Date d'émission").fill(issued_on)
        page.get_by_label("Fichier").set_input_files(str(path))
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
        return sent.value

    def requirement(self, legend: str) -> Any:
        return self.page.locator("fieldset", has=self.page.locator("legend", has_text=legend))


def sign_up_and_activate(journey: Journey, portal: Portal, mailbox: Mailbox) -> None:
    page, base = journey.page, journey.base
    page.goto(base + "/")
    page.get_by_role("link", name="Se connecter").last.click()
    page.get_by_role("link", name="Créer mon compte").click()
    page.wait_for_url(base + "/inscription")
    journey.check("inscription")
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Prénom et nom").fill("Claire Lefèvre")
    page.get_by_label("Mot de passe (au moins 12 caractères)").fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    # DSFR draws the box on the label, as a person clicks it.
    page.locator("label[for=information]").click()
    assert page.get_by_label(re.compile("J’ai lu l’information sur l’espace famille")).is_checked()
    page.get_by_role("button", name="Créer mon compte").click()
    assert journey.heading() == "Consultez votre messagerie"

    assert deliver_mail(portal) >= 1  # the demo's own families may have mail queued too
    (message,) = mailbox.to(EMAIL)
    assert message["Subject"] == "Activez votre compte sur le portail famille"
    link = re.search(r"https?://\S+/activation/\S+", message.get_content())
    assert link, message.get_content()
    page.goto(base + urlsplit(link.group(0)).path)
    confirm = page.get_by_role("button", name="Activer mon compte")
    if confirm.count():  # activation asks for a click, so a mail scanner cannot spend the link
        journey.check("activation")
        confirm.click()
    page.wait_for_url(base + "/connexion")
    assert "Votre compte est actif. Vous pouvez vous connecter." in page.content()
    journey.check("connexion")


def log_in(journey: Journey) -> None:
    page = journey.page
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(journey.base + "/famille/")
    assert journey.heading() == "Mon espace famille"
    journey.check("accueil")


def add_child(journey: Journey) -> None:
    page = journey.page
    page.get_by_role("link", name="Mon foyer").click()
    page.wait_for_url(journey.base + "/famille/foyer")
    journey.check("foyer")
    page.get_by_label("Prénom de l’enfant").fill("Capucine")
    page.get_by_label("Nom de l’enfant", exact=True).fill("Lefèvre")
    page.get_by_label("Date de naissance de l’enfant").fill("2025-06-10")
    page.get_by_role("button", name="Ajouter l’enfant").click()
    page.wait_for_url(journey.base + "/famille/foyer")
    assert "L’enfant a été ajouté à votre foyer." in page.content()
    assert page.locator("#enfants ~ ul li, #enfants + ul li").first.inner_text().startswith(CHILD)


def fill_the_vault(journey: Journey, files: dict[str, Path]) -> None:
    """One document refused for what it holds, beside the file field; then one accepted."""
    page = journey.page
    page.goto(journey.base + "/famille/")
    page.get_by_role("link", name="Mon coffre-fort").click()
    journey.check("coffre-vide")
    page.get_by_role("link", name="Ajouter un document").first.click()
    journey.check("depot")

    refused = journey.deposit("Justificatif de domicile", "2026-11-02", files["bulletin.pdf"])
    assert refused.status == 422
    error = page.locator("#fichier-erreur")
    error.wait_for(state="visible")
    assert REFUSED in error.inner_text()
    journey.check("depot-refuse")

    accepted = journey.deposit("Justificatif de domicile", "2026-11-02", files["facture-eau.pdf"])
    assert accepted.status == 201
    page.wait_for_url(journey.base + "/famille/coffre")
    assert page.locator(".portail-document", has_text="facture-eau.pdf").count() == 1
    assert "bulletin.pdf" not in page.content()
    journey.check("coffre")


def start_the_creche(journey: Journey) -> None:
    page = journey.page
    page.goto(journey.base + "/famille/")
    page.get_by_role("link", name="Faire une démarche").click()
    page.wait_for_url(journey.base + "/famille/demarches")
    journey.check("demarches")
    page.get_by_role("button", name=re.compile("Commencer — Pré-inscription en crèche")).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    journey.check("formulaire")
    page.get_by_label("Enfant concerné").select_option(label=CHILD)
    page.get_by_label("Date d'entrée souhaitée").fill("2027-09-01")
    days = page.get_by_role("group", name="Nombre de jours d'accueil par semaine")
    days.get_by_text("4 jours", exact=True).click()  # DSFR draws the radio on its label
    assert days.get_by_label("4 jours").is_checked()
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/justificatifs$"))


def documents_step(journey: Journey, files: dict[str, Path]) -> None:
    """Deposit the two missing documents from this step, then consent to share all three."""
    page = journey.page
    home = journey.requirement("Justificatif de domicile de moins de 3 mois")
    assert "facture-eau.pdf" in home.inner_text()
    assert not home.get_by_label(CONSENT).is_checked()  # nothing is shared by default
    journey.check("justificatifs")
    missing = [
        ("Avis d'imposition", "Avis d'imposition", "2026-08-15", "avis-impot-2026.pdf", ""),
        ("Carnet de vaccination", "Carnet de vaccination", "2025-07-01", "carnet-capucine.pdf",
         CHILD),
    ]  # fmt: skip
    for legend, type_label, issued_on, name, member in missing:
        fieldset = journey.requirement(legend)
        assert "Votre coffre ne contient aucun document valide de ce type." in fieldset.inner_text()
        fieldset.get_by_role("button", name="Ajouter un document à mon coffre").click()
        assert journey.deposit(type_label, issued_on, files[name], member).status == 201
        # Back to the step, the new document ticked to be shared.
        page.wait_for_url(re.compile(r"/famille/demandes/\d+/justificatifs\?ajoute=\d+$"))
        assert name in journey.requirement(legend).inner_text()
        assert journey.requirement(legend).get_by_label(CONSENT).is_checked()

    home = journey.requirement("Justificatif de domicile")
    home.locator("label", has_text=CONSENT).click()  # DSFR draws the box on its label
    for legend in ("Justificatif de domicile", "Avis d'imposition", "Carnet de vaccination"):
        assert journey.requirement(legend).get_by_label(CONSENT).is_checked()
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/recapitulatif$"))
    journey.check("recapitulatif")
    summary = page.locator("main").inner_text()
    for name in ("facture-eau.pdf", "avis-impot-2026.pdf", "carnet-capucine.pdf", CHILD):
        assert name in summary


def submit_and_follow(journey: Journey, portal: Portal, mailbox: Mailbox) -> None:
    page = journey.page
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/confirmation$"))
    confirmed = page.locator("main").inner_text()
    found = re.search(r"Numéro de demande : (\S+)", confirmed)
    assert found, confirmed
    number = found.group(1)
    journey.check("confirmation")

    assert deliver_mail(portal) >= 1
    assert any(number in str(message["Subject"]) for message in mailbox.to(EMAIL))

    page.get_by_role("link", name="Mes demandes").last.click()
    page.wait_for_url(journey.base + "/famille/demandes")
    row = page.locator("tr", has_text=number)
    assert "Pré-inscription en crèche" in row.inner_text()
    assert row.locator(".fr-badge").text_content().strip() == "Déposée"  # shown in capitals
    journey.check("mes-demandes")
    row.get_by_role("link", name="Pré-inscription en crèche").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+$"))
    follow = page.locator("main").inner_text()
    assert number in follow and SERVICE in follow
    journey.check("demande")


@pytest.mark.browser
def test_a_new_family_signs_up_and_pre_registers_its_child_at_the_creche(
    portal: Portal,
    browser: Any,
    mailbox: Mailbox,
    files: dict[str, Path],
) -> None:
    context = axe_context(browser, DESKTOP)
    journey = Journey(context.new_page(), portal.url)

    sign_up_and_activate(journey, portal, mailbox)
    log_in(journey)
    add_child(journey)
    fill_the_vault(journey, files)
    start_the_creche(journey)
    documents_step(journey, files)
    submit_and_follow(journey, portal, mailbox)
    context.close()

    assert len(journey.checked) >= 15
    assert journey.problems == {}, journey.problems
