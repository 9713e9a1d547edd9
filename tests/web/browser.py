"""Headless Chromium against the portal served on loopback: what every browser test shares.

The fixtures `live_server` and `browser` are exposed by tests/web/conftest.py; the context
managers serve tests that need a longer-lived portal or extra settings (SMTP).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import Deployment, PostgresServer, require
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
ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
# dmn-js's production bundle carries Inferno's development build, which says so on load: a
# known message of the library, not a fault of the page.
KNOWN_CONSOLE = ("minified copy of the development build of Inferno",)


def unexpected(console: list[str]) -> list[str]:
    """The console's errors but the libraries' known notices."""
    return [text for text in console if not any(known in text for known in KNOWN_CONSOLE)]


VENDOR = ROOT / "web" / "static" / "vendor" / "dsfr" / "dsfr.min.css"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")
PHONE, DESKTOP = 360, 1280


@dataclass
class MovableClock:
    """Real time as it passes, moved on by what a test adds: a served portal's clock.

    A browser needs time to pass (sessions, throttles), and a test must still be able to
    step to the next second factor code instead of waiting for it on the wall clock.
    """

    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass(frozen=True)
class Portal:
    """A portal served on a free loopback port: its address and its app (for its database)."""

    url: str
    app: Flask


@contextmanager
def serve_portal(var_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[Portal]:
    """The demo portal, seeded like `make run`, on its own SQLite database and files under
    `var_dir` unless `env` says otherwise (DATABASE_URL, STORAGE_URL: see `deployed`)."""
    settings = load_settings({"ENV": "test", "VAR_DIR": str(var_dir), **(env or {})})
    app = create_app(settings, clock=MovableClock())
    schema.upgrade(runtime(app).engine)
    seeded = app.test_cli_runner().invoke(args=["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Portal(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        runtime(app).engine.dispose()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        require("Chromium is not installed (make test installs it when run as root)")
    if not VENDOR.exists():
        require("the DSFR assets are missing (run make assets)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """The demo portal on a free loopback port, on its own SQLite database."""
    with serve_portal(tmp_path) as portal:
        yield portal.url


@pytest.fixture
def deployed(
    deployment: Deployment, storage_url: str, request: pytest.FixtureRequest
) -> dict[str, str]:
    """Settings that serve a portal on the deployment: production's gets a PostgreSQL
    database and a bucket of its own; the embedded one keeps both under its VAR_DIR."""
    if deployment.database == "sqlite":
        return {}
    server: PostgresServer | None = request.getfixturevalue("postgres")
    if server is None:
        require("PostgreSQL is unreachable")
    return {"DATABASE_URL": server.create_database(), "STORAGE_URL": storage_url}


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def click_below_a_frame(page: Any, target: Any) -> None:
    """Click `target` where it has to be scrolled to past a PDF preview frame.

    Headless Chromium routes a click sent right after a scroll by where things were before it:
    a button scrolled into the place the frame held got no event at all (the frame's PDF
    viewer took it). Scroll, let two frames be drawn, then click.
    """
    target.scroll_into_view_if_needed()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    target.click()


def axe_context(browser: Any, width: int = DESKTOP, **options: Any) -> Any:
    """A French browser context where axe can run: the portal's CSP forbids injected scripts."""
    if not AXE.exists():
        require("node_modules/axe-core is missing: run npm ci (it is a devDependency)")
    return browser.new_context(
        viewport={"width": width, "height": 900}, locale="fr-FR", bypass_csp=True, **options
    )


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every WCAG 2.1 A/AA violation axe-core finds on the page, with its impact and nodes."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    assert result["passes"], "axe did not run"
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]


def blocking_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations: those the quality bar forbids."""
    return [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]


def page_problems(page: Any, name: str, widths: tuple[int, ...] = (PHONE, DESKTOP)) -> list[Any]:
    """Screenshot the whole page at each width into tests/artifacts/<name>-<width>.png and check
    it there: no serious or critical axe violation, no horizontal scroll. Returns the problems.

    The viewport is put back as it was, so a journey goes on unchanged.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    before = page.viewport_size
    problems: list[Any] = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            problems.append({"width": width, "horizontal scroll": scroll})
        problems += [{"width": width, **found} for found in blocking_violations(page)]
    page.set_viewport_size(before)
    return problems
