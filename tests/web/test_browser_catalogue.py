"""The catalogue's older procedures walked in headless Chromium, each from the family's request
to the agent's decision (issue 26), on one embedded demo portal for the module.

Each test is one procedure and one demo family (or child), so that none depends on another's
order: the family logs in, starts the procedure from « Démarches », fills its form (checked
with axe-core), shares or deposits the documents asked, submits; the handling agent opens the
demande from the inbox, takes the step and decides; the family reads the decision on its
request's page. The agents stay signed in for the module (their login is walked by the
agents' own browser tests), the families log in each time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from coffre.clock import local_today
from demo.seed import DEMO_PASSWORD, demo_pdf
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import (
    DESKTOP,
    Portal,
    axe_context,
    blocking_violations,
    chromium,
    serve_portal,
)
from web.runtime import runtime

ECOLES = "agent.ecoles@bellerive.example"  # Affaires scolaires: the school service's lanes
MQ = "agent.mq@bellerive.example"  # accueil-mq, the partner association's front desk
CONSENT = "Je partage ce document avec le service"
LILAS = "Groupe scolaire des Lilas"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """One embedded demo portal for the module: each test files for its own family."""
    with serve_portal(tmp_path_factory.mktemp("catalogue") / "var") as served:
        yield served


@pytest.fixture(scope="module")
def module_browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@dataclass
class Desks:
    """The agents' browser pages, each signed in on its first use and kept for the module."""

    portal: Portal
    browser: Any
    contexts: dict[str, Any] = field(default_factory=dict)

    def page(self, email: str) -> Any:
        if email not in self.contexts:
            context = self.browser.new_context(
                viewport={"width": DESKTOP, "height": 900}, locale="fr-FR"
            )
            context.set_default_timeout(TIMEOUT_MS)
            self.contexts[email] = context
            sign_in_agent_in_browser(context.new_page(), self.portal.url, self.portal.app, email)
        return self.contexts[email].pages[0]

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()


@pytest.fixture(scope="module")
def desks(portal: Portal, module_browser: Any) -> Iterator[Desks]:
    opened = Desks(portal, module_browser)
    yield opened
    opened.close()


@contextmanager
def family_page(browser: Any, portal: Portal, family: str) -> Iterator[Any]:
    """A demo family's page, logged in, in a context where axe-core can run."""
    context = axe_context(browser)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(portal.url + "/connexion")
    page.get_by_label("Adresse électronique").fill(f"famille.{family}@bellerive.example")
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(portal.url + "/famille/")
    try:
        yield page
    finally:
        context.close()


def start(page: Any, portal: Portal, title: str) -> int:
    """From « Démarches » to the procedure's form, checked with axe-core; the demande's id."""
    page.goto(portal.url + "/famille/demarches")
    page.get_by_role("button", name=f"Commencer — {title}", exact=True).click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/formulaire$"))
    assert blocking_violations(page) == []
    found = re.search(r"/demandes/(\d+)/", page.url)
    assert found
    return int(found.group(1))


def continue_to(page: Any, step: str) -> None:
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(re.compile(rf"/famille/demandes/\d+/{step}$"))


def share_all(page: Any) -> None:
    """Tick every document offered (DSFR draws each box on its label), then go on."""
    labels = page.locator("label", has_text=CONSENT)
    for index in range(labels.count()):
        if not page.locator("input[name=partage]").nth(index).is_checked():
            labels.nth(index).click()
    continue_to(page, "recapitulatif")


def deposit_from_the_request(page: Any, portal: Portal, tmp: Path, kind: str, age: int) -> None:
    """The justificatifs page's « Ajouter un document à mon coffre » for the `kind` asked,
    issued `age` days ago: the vault's form comes with the type (and the child) chosen, and
    the family comes back to the request with its new document ticked."""
    page.get_by_role("button", name=f"Ajouter un document à mon coffre — {kind}").click()
    page.wait_for_url(re.compile(r"/famille/coffre/ajouter\?"))
    issued = local_today(runtime(portal.app).clock) - timedelta(days=age)
    page.get_by_label("Date d'émission").fill(issued.isoformat())
    upload = tmp / (re.sub(r"\W+", "-", kind.lower()).strip("-") + ".pdf")
    upload.write_bytes(demo_pdf(kind))
    page.get_by_label("Fichier").set_input_files(str(upload))
    page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/justificatifs\?ajoute=\d+$"))
    assert page.get_by_label(re.compile(re.escape(upload.name))).is_checked()


def submit(page: Any) -> str:
    """From the summary to the confirmation; the request's number."""
    page.get_by_role("button", name="Déposer ma demande").click()
    page.wait_for_url(re.compile(r"/famille/demandes/\d+/confirmation$"))
    found = re.search(r"Numéro de demande : (\S+)", page.locator("main").inner_text())
    assert found
    return found.group(1)


def decide(
    agent: Any,
    portal: Portal,
    number: str,
    choices: Mapping[str, str],
    fields: Mapping[str, str] | None = None,
) -> str:
    """The agent opens the demande from the inbox, takes the step, answers its form and
    completes it. `choices`: a radio group's legend to the choice's label; `fields`: a
    field's label to what is typed. Returns the demande's page text before the decision."""
    agent.goto(portal.url + "/agent/taches")
    agent.locator("table tbody tr", has_text=number).get_by_role("link", name=number).click()
    agent.wait_for_url(re.compile(r"/agent/demandes/\d+$"))
    read = agent.locator("main").inner_text()
    agent.get_by_role("button", name="Prendre cette étape").click()
    for legend, label in choices.items():
        agent.get_by_role("group", name=legend).get_by_text(label, exact=True).click()
    for label, value in (fields or {}).items():
        agent.get_by_label(re.compile("^" + re.escape(label))).fill(value)
    agent.get_by_role("button", name="Terminer l'étape").click()
    assert "L'étape est terminée." in agent.locator(".fr-alert").first.inner_text()
    return str(read)


def decision_read(page: Any, portal: Portal, demande_id: int, status: str) -> str:
    """The family's request page: its status badge and its text."""
    page.goto(f"{portal.url}/famille/demandes/{demande_id}")
    assert str(page.locator("main .fr-badge").first.text_content()).strip() == status
    return str(page.locator("main").inner_text())


def test_school_registration(
    portal: Portal, module_browser: Any, desks: Desks, tmp_path: Path
) -> None:
    """The Nguyens register Minh for petite section, depositing their livret de famille on
    the way; the agent reads the school of their street's sector and confirms it."""
    with family_page(module_browser, portal, "nguyen") as family:
        demande_id = start(family, portal, "Inscription scolaire")
        family.get_by_label("Enfant à inscrire").select_option(label="Minh Nguyen")
        family.get_by_label("Niveau à la rentrée").select_option(
            label="Petite section (maternelle)"
        )
        family.get_by_label("Date d'entrée souhaitée").fill("2027-09-02")
        continue_to(family, "justificatifs")
        deposit_from_the_request(family, portal, tmp_path, "Livret de famille", 400)
        share_all(family)
        number = submit(family)

        read = decide(
            desks.page(ECOLES),
            portal,
            number,
            {"Décision": "Valider l'inscription"},
        )
        assert f"École du secteur de l'adresse du foyer : {LILAS}." in read

        # The agent confirmed the proposal without a word: the family reads the school kept.
        text = decision_read(family, portal, demande_id, "Acceptée")
        assert f"École retenue pour Minh : {LILAS}." in text


def test_after_school_registration(
    portal: Portal, module_browser: Any, desks: Desks, tmp_path: Path
) -> None:
    """The Roux register Jade for the canteen and the evening care, depositing an insurance
    certificate that covers the coming school year; the agent validates."""
    with family_page(module_browser, portal, "roux") as family:
        demande_id = start(family, portal, "Inscription périscolaire et restauration")
        family.get_by_label("Enfant concerné").select_option(label="Jade Roux")
        for service in ("Restauration scolaire", "Accueil périscolaire du soir"):
            family.locator("label", has_text=service).click()
        continue_to(family, "justificatifs")
        deposit_from_the_request(family, portal, tmp_path, "Attestation d'assurance", 10)
        share_all(family)
        number = submit(family)

        read = decide(desks.page(ECOLES), portal, number, {"Décision": "Valider l'inscription"})
        assert "Jade Roux" in read

        decision_read(family, portal, demande_id, "Acceptée")


def test_family_quotient(portal: Portal, module_browser: Any, desks: Desks) -> None:
    """The Benalis share their tax notice; the agent sets their quotient and bracket, which
    their household file then shows."""
    with family_page(module_browser, portal, "benali") as family:
        demande_id = start(family, portal, "Calcul du quotient familial")
        family.get_by_label("Nombre de parts fiscales du foyer").fill("3")
        family.get_by_label("Revenu fiscal de référence").fill("31200")
        continue_to(family, "justificatifs")
        share_all(family)
        number = submit(family)

        valid_until = local_today(runtime(portal.app).clock) + timedelta(days=365)
        decide(
            desks.page(ECOLES),
            portal,
            number,
            {
                "Décision": "Valider le quotient familial",
                "Tranche tarifaire (pour valider)": "Tranche B",
            },
            {
                "Quotient familial retenu": "867",
                "Valable jusqu'au": valid_until.isoformat(),
            },
        )

        decision_read(family, portal, demande_id, "Acceptée")
        family.goto(portal.url + "/famille/foyer")
        assert "867" in family.locator("main").inner_text()


def test_fiscal_certificate_completed_by_the_service(
    portal: Portal, module_browser: Any, desks: Desks
) -> None:
    """The Martins ask for Léa's childcare-cost certificate: the portal does not know the
    amount paid, so the school service completes it by hand and the certificate is issued
    into the family's vault."""
    with family_page(module_browser, portal, "martin") as family:
        demande_id = start(family, portal, "Demande d'attestation")
        group = family.get_by_role("group", name="Attestation souhaitée")
        group.get_by_text("Attestation fiscale des frais de garde", exact=True).click()
        family.get_by_label("Enfant concerné").select_option(label="Léa Martin")
        continue_to(family, "justificatifs")
        continue_to(family, "recapitulatif")
        number = submit(family)

        decide(
            desks.page(ECOLES),
            portal,
            number,
            {"Suite donnée": "Délivrer l'attestation"},
            {"Montant des frais de garde payés sur l'année": "1250.40"},
        )

        text = decision_read(family, portal, demande_id, "Acceptée")
        assert "Documents délivrés par la mairie" in text
        assert f"attestation-fiscale-{number}" in text


def test_absence_justified_by_a_medical_certificate(
    portal: Portal, module_browser: Any, desks: Desks, tmp_path: Path
) -> None:
    """Jade's father (foyer Petit) deposits her medical certificate from the request; the
    agent finds that it justifies the absence."""
    today = local_today(runtime(portal.app).clock)
    with family_page(module_browser, portal, "petit") as family:
        demande_id = start(family, portal, "Justifier une absence pour maladie")
        family.get_by_label("Enfant concerné").select_option(label="Jade Petit")
        family.get_by_label("Premier jour d'absence").fill((today - timedelta(days=3)).isoformat())
        family.get_by_label("Dernier jour d'absence").fill((today - timedelta(days=2)).isoformat())
        continue_to(family, "justificatifs")
        deposit_from_the_request(family, portal, tmp_path, "Certificat médical", 3)
        share_all(family)
        number = submit(family)

        read = decide(
            desks.page(ECOLES),
            portal,
            number,
            {"Décision": "Le certificat justifie l'absence : ne pas facturer"},
        )
        assert "Certificat médical" in read

        decision_read(family, portal, demande_id, "Acceptée")


def test_lost_card_report(portal: Portal, module_browser: Any, desks: Desks) -> None:
    """The Benalis report that Adam lost his card; the partner association's front desk
    (accueil-mq) records it."""
    today = local_today(runtime(portal.app).clock)
    with family_page(module_browser, portal, "benali") as family:
        demande_id = start(family, portal, "Signalement d'absence ou de perte de carte")
        group = family.get_by_role("group", name="Que souhaitez-vous signaler ?")
        group.get_by_text("La perte de la carte d'accès", exact=True).click()
        family.get_by_label("Enfant concerné").select_option(label="Adam Benali")
        family.get_by_label("À partir du").fill(today.isoformat())
        continue_to(family, "justificatifs")
        continue_to(family, "recapitulatif")
        number = submit(family)

        read = decide(
            desks.page(MQ), portal, number, {"Suite donnée": "Enregistrer le signalement"}
        )
        assert "La perte de la carte d'accès" in read

        decision_read(family, portal, demande_id, "Acceptée")
