"""Smoke test in headless Chromium: a family logs in on a real server."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from procedures.demo import DEMO_PASSWORD
from tests.conftest import require
from web import create_app, schema
from web.runtime import runtime
from web.settings import load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
VENDOR = Path(__file__).parents[2] / "web" / "static" / "vendor" / "dsfr" / "dsfr.min.css"


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """The demo portal on a free loopback port, on its own SQLite database."""
    app = create_app(load_settings({"ENV": "test", "VAR_DIR": str(tmp_path)}))
    schema.upgrade(runtime(app).engine)
    seeded = app.test_cli_runner().invoke(args=["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    runtime(app).engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        require("Chromium is not installed (make test installs it when run as root)")
    if not VENDOR.exists():
        require("the DSFR assets are missing (run make assets)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_family_logs_in_on_a_phone_sized_screen(live_server: str, browser: object) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="fr-FR")  # type: ignore[attr-defined]
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
