from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account
from tests.factories import page_text
from tests.web.conftest import deposit
from web import create_app
from web.runtime import runtime
from web.settings import Settings, load_settings


def test_pages_carry_a_strict_content_security_policy(client: FlaskClient) -> None:
    headers = client.get("/").headers

    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_the_pay_form_may_lead_to_the_bank_and_nowhere_else(
    settings: Settings, sessions: sessionmaker[Session], client: FlaskClient
) -> None:
    """PayFiP's pages are another origin: the "Payer" form's redirect must be allowed there
    (Chromium applies form-action to a form's redirects), and only there."""
    payfip = create_app(dataclasses.replace(settings, payment_backend="payfip_ws"))
    runtime(payfip).sessions = sessions

    with_bank = payfip.test_client().get("/").headers["Content-Security-Policy"]
    demo = client.get("/").headers["Content-Security-Policy"]

    assert "form-action 'self' https://www.payfip.gouv.fr;" in with_bank
    assert "form-action 'self';" in demo  # the dummy's bank is served by the portal
    runtime(payfip).engine.dispose()


def test_pages_have_no_inline_script(client: FlaskClient) -> None:
    for path in ("/", "/connexion"):
        page = page_text(client.get(path))
        assert "<script>" not in page
        assert " onclick=" not in page and " style=" not in page


def test_session_cookie_is_httponly_and_samesite(client: FlaskClient) -> None:
    client.get("/connexion")
    cookie = client.get_cookie("portail_session")

    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_https_deployment_gets_secure_host_cookies_and_hsts(
    tmp_path: Path, database_url: str, sessions: sessionmaker[Session]
) -> None:
    settings = load_settings(
        {
            "ENV": "test",
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": database_url,
            "BASE_URL": "https://famille.ville.example",
        }
    )
    app = create_app(settings)
    runtime(app).sessions = sessions
    client = app.test_client()

    response = client.get("/connexion", base_url="https://famille.ville.example")
    cookie = client.get_cookie("__Host-portail_session", domain="famille.ville.example")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert cookie is not None and cookie.secure and cookie.http_only
    runtime(app).engine.dispose()


def test_unknown_page_is_a_french_404(client: FlaskClient) -> None:
    response = client.get("/nulle-part")

    assert response.status_code == 404
    assert "Cette page n'existe pas" in page_text(response)


def test_api_errors_are_rfc_9457_problems_in_english_and_french(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Cette page n'existe pas ou n'est plus disponible.",
        "lang": "fr",
    }


def test_a_static_file_not_modified_is_closed_not_left_to_the_garbage_collector(
    client: FlaskClient,
) -> None:
    first = client.get("/static/js/depot.js")
    last_modified = first.headers["Last-Modified"]
    first.close()

    again = client.get("/static/js/depot.js", headers={"If-Modified-Since": last_modified})
    gc.collect()  # an unclosed file would be reported here, and warnings are errors

    assert again.status_code == 304


def test_pages_and_files_with_personal_data_are_never_stored_by_a_cache(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    document = deposit(app, db_session, family.foyer_id or 0)
    personal = (
        "/famille/",
        "/famille/coffre",
        f"/famille/coffre/{document.id}/voir",
        f"/famille/coffre/{document.id}/fichier?disposition=attachment",
        "/famille/coffre/export",
        "/famille/foyer",
    )
    for path in personal:
        response = family_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        response.close()

    static = family_client.get("/static/css/portail.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


def test_static_files_never_write_the_session_back(family_client: FlaskClient) -> None:
    # Answered after a link's redirect, a stylesheet requested by the previous page would
    # write back the session as it was before, losing the token the redirect kept in it.
    page = family_client.get("/famille/")
    static = family_client.get("/static/css/portail.css")

    assert "Set-Cookie" in page.headers
    assert "Set-Cookie" not in static.headers
    static.close()
