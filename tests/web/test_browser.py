"""Smoke test in headless Chromium: a family logs in on a real server."""

from __future__ import annotations

from typing import Any

import pytest

from demo.seed import DEMO_PASSWORD
from tests.web.browser import ARTIFACTS


@pytest.mark.browser
def test_family_logs_in_on_a_phone_sized_screen(live_server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="fr-FR")
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    page.goto(live_server + "/")
    assert page.locator("h1").inner_text() == "Bienvenue sur le portail famille"
    page.get_by_role("link", name="Se connecter").last.click()
    page.get_by_label("Adresse électronique").fill("famille.martin@bellerive.example")
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()

    page.wait_for_url(live_server + "/famille/")
    assert page.locator("h1").inner_text() == "Mon espace famille"
    assert "Camille Martin" in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "famille-connectee-360.png"), full_page=True)
    assert failed == []
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Marianne" in font, "the DSFR stylesheet did not load"
    context.close()
