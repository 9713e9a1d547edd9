"""The family's vault in headless Chromium, on a real server: upload, refusal, layout, a11y."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coffre.clock import SystemClock, local_today
from demo.seed import DEMO_PASSWORD, demo_pdf
from tests.coffre.conftest import pdf_of
from tests.web.browser import ARTIFACTS, axe_context, axe_violations

FAMILY = "famille.martin@bellerive.example"
DANGEROUS = "Ce fichier contient du contenu potentiellement dangereux"


def console_error(message: Any) -> str | None:
    """Any error the page logs (a CSP violation included) fails the test."""
    return str(message.text) if message.type == "error" else None


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    pdf = tmp_path / "attestation-caf.pdf"
    pdf.write_bytes(demo_pdf("Attestation CAF - document de test"))
    html = tmp_path / "facture.pdf"
    html.write_bytes(b"<!doctype html><html><body><script>alert(1)</script></body></html>")
    return {"pdf": pdf, "html": html}


def log_in(page: Any, base: str) -> None:
    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(FAMILY)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base + "/famille/")


def fill_deposit(page: Any, path: Path) -> None:
    page.get_by_label("Type de document").select_option(label="Attestation CAF / quotient familial")
    page.get_by_label("Date d'émission").fill("2025-12-15")
    page.get_by_label("Fichier").set_input_files(str(path))


@pytest.mark.browser
def test_family_uploads_through_the_page_sees_refusals_beside_the_field_and_its_list(
    live_server: str,
    browser: Any,
    files: dict[str, Path],
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    problems: list[str | None] = []
    page.on(
        "console", lambda m: problems.append(console_error(m) or "") if console_error(m) else None
    )
    log_in(page, live_server)
    page.get_by_role("link", name="Mon coffre-fort").click()
    page.get_by_role("link", name="Ajouter un document").click()

    fill_deposit(page, files["html"])
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
    assert refused.value.status == 422
    assert refused.value.request.headers["accept"] == "application/json"  # sent by depot.js
    error = page.locator("#fichier-erreur")
    error.wait_for(state="visible")
    assert DANGEROUS in error.inner_text()
    assert page.evaluate("document.activeElement.id") == "fichier"
    assert page.locator(".fr-upload-group--error").count() == 1
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=str(ARTIFACTS / "famille-depot-refuse-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Fichier").set_input_files(str(files["pdf"]))
    assert not error.is_visible()  # a new file clears the message
    with page.expect_response(lambda r: r.request.method == "POST") as accepted:
        page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
    assert accepted.value.status == 201
    page.wait_for_url(live_server + "/famille/coffre")

    assert "Votre document a été déposé dans votre coffre-fort." in page.content()
    item = page.locator(".portail-document", has_text="attestation-caf.pdf")
    assert "Attestation CAF / quotient familial" in item.inner_text()
    # Three demo documents, this one, and last month's invoice but in July and August.
    invoices = page.locator(".portail-document", has_text="Facture de la commune").count()
    assert page.locator(".portail-document").count() - invoices == 4
    assert invoices == (0 if local_today(SystemClock()).month in (8, 9) else 1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "famille-coffre-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "horizontal scroll"
    page.screenshot(path=str(ARTIFACTS / "famille-coffre-360.png"), full_page=True)
    refused_status = "the server responded with a status of 422 (UNPROCESSABLE ENTITY)"
    assert [problem for problem in problems if problem] == [
        f"Failed to load resource: {refused_status}"
    ]
    context.close()


@pytest.mark.browser
def test_without_javascript_the_plain_form_deposits_and_refuses(
    live_server: str,
    browser: Any,
    files: dict[str, Path],
) -> None:
    context = browser.new_context(java_script_enabled=False, locale="fr-FR")
    page = context.new_page()
    log_in(page, live_server)
    page.goto(live_server + "/famille/coffre/ajouter")

    fill_deposit(page, files["html"])
    page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
    assert DANGEROUS in page.locator("#fichier-erreur").inner_text()

    fill_deposit(page, files["pdf"])
    page.get_by_role("button", name="Déposer dans mon coffre-fort").click()
    page.wait_for_url(live_server + "/famille/coffre")
    assert page.locator(".portail-document", has_text="attestation-caf.pdf").count() == 1
    context.close()


@pytest.mark.browser
def test_a_pdf_is_previewed_inside_the_page(live_server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    log_in(page, live_server)
    page.goto(live_server + "/famille/coffre")
    with page.expect_response(lambda r: "/fichier" in r.url) as raw:
        page.get_by_role("link", name="Voir — Justificatif de domicile").click()

    assert page.locator("iframe.portail-apercu").count() == 1
    assert raw.value.status == 200
    assert raw.value.headers["content-type"] == "application/pdf"
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "famille-apercu-1280.png"))
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [360, 1280])
def test_vault_pages_pass_axe_and_fit_the_screen(
    live_server: str,
    browser: Any,
    width: int,
) -> None:
    context = axe_context(browser, width)
    page = context.new_page()
    log_in(page, live_server)
    page.goto(live_server + "/famille/coffre")
    first = page.locator(".portail-document a", has_text="Voir").first.get_attribute("href")
    document = first.split("/")[3]  # /famille/coffre/<id>/voir
    paths = [
        "/famille/",
        "/famille/coffre",
        "/famille/coffre/ajouter",
        f"/famille/coffre/ajouter?remplace={document}",
        f"/famille/coffre/{document}/voir",
        f"/famille/coffre/{document}/historique",
        f"/famille/coffre/{document}/consultations",
        f"/famille/coffre/{document}/supprimer",
        "/famille/compte/supprimer",
    ]
    found: dict[str, Any] = {}
    for path in paths:
        page.goto(live_server + path)
        violations = axe_violations(page)
        if violations:
            found[path] = violations
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            found[path + " (horizontal scroll)"] = scroll_width
    context.close()
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)


@pytest.mark.browser
def test_a_slow_upload_shows_its_progress(
    live_server: str,
    browser: Any,
    tmp_path: Path,
) -> None:
    big = tmp_path / "attestation-caf.pdf"
    big.write_bytes(pdf_of(1_000_000))  # padded inside: a PDF must end as PDFs end
    page = browser.new_context(locale="fr-FR").new_page()
    log_in(page, live_server)
    page.goto(live_server + "/famille/coffre/ajouter")
    fill_deposit(page, big)
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 256_000},
    )

    page.get_by_role("button", name="Déposer dans mon coffre-fort").click()

    progress = page.locator("progress")
    progress.wait_for(state="visible")
    # Polled from here: wait_for_function evaluates a string, which the CSP forbids.
    values = []
    for _ in range(100):
        values.append(progress.evaluate("bar => bar.value"))
        if 0 < values[-1] < 100:
            break
        page.wait_for_timeout(50)
    assert 0 < values[-1] < 100, values
    assert page.get_by_role("button", name="Déposer dans mon coffre-fort").is_disabled()
    assert "Envoi du fichier" in page.get_by_role("status").inner_text()
    page.wait_for_url(live_server + "/famille/coffre", timeout=30_000)
    page.context.close()


@pytest.mark.browser
def test_a_file_dropped_on_the_zone_fills_the_file_input(
    live_server: str,
    browser: Any,
) -> None:
    page = browser.new_context(locale="fr-FR").new_page()
    log_in(page, live_server)
    page.goto(live_server + "/famille/coffre/ajouter")
    assert page.get_by_text("Vous pouvez aussi glisser-déposer le fichier ici.").is_visible()

    page.evaluate(
        """() => {
        const data = new DataTransfer();
        data.items.add(new File(["%PDF-1.4"], "glisse.pdf", {type: "application/pdf"}));
        document.querySelector("[data-depot-zone]")
            .dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
    }"""
    )

    assert page.evaluate("document.querySelector('#fichier').files[0].name") == "glisse.pdf"
    page.context.close()
