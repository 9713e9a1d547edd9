from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account, Role
from coffre.clock import FrozenClock
from demo.seed import DEMO_PASSWORD
from tests.factories import make_account, make_agent, page_text
from tests.web.agents import (
    SECOND_FACTOR_PAGE,
    enrolled_secret,
    next_code,
    sign_in_agent,
    sign_in_agent_in_browser,
    submit_code,
)
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.browser import ARTIFACTS, chromium, serve_portal
from web import create_app
from web.runtime import runtime
from web.settings import Settings, load_settings

ENROLMENT_PAGE = "/connexion/enrolement"
INBOX = "/agent/taches"
WRONG_CODE = "Code incorrect ou expiré."
DEMO_AGENT = "agent.creche@bellerive.example"


@pytest.fixture
def agent(db_session: Session, clock: FrozenClock) -> Account:
    return make_agent(db_session, clock)


def _wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


def test_the_password_alone_does_not_open_the_back_office(
    client: FlaskClient, agent: Account
) -> None:
    response = log_in(client, agent.email)

    assert response.status_code == 302
    assert response.headers["Location"] == ENROLMENT_PAGE
    for path in ("/agent/", INBOX):
        assert client.get(path).headers["Location"].startswith("/connexion?next=")


def test_first_login_enrols_the_app_then_opens_the_inbox(
    client: FlaskClient, db_session: Session, agent: Account
) -> None:
    log_in(client, agent.email)

    page = client.get(ENROLMENT_PAGE)

    text = page_text(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "Configurer vos codes de vérification" in text
    assert 'src="data:image/svg+xml' in text
    secret_match = re.search(r'<code id="cle-secrete">([A-Z2-7 ]+)</code>', text)
    uri_match = re.search(r'<code id="adresse-otpauth">(otpauth://[^<]+)</code>', text)
    assert secret_match and uri_match
    secret = secret_match.group(1).replace(" ", "")
    assert pyotp.parse_uri(uri_match.group(1)).secret == secret
    assert "issuer=Portail%20Famille" in uri_match.group(1)

    wrong = submit_code(client, ENROLMENT_PAGE, _wrong(pyotp.TOTP(secret).now()))
    assert wrong.status_code == 401
    assert WRONG_CODE in page_text(wrong)

    done = submit_code(client, ENROLMENT_PAGE, next_code(client.application, agent.id, secret))

    assert done.status_code == 302
    assert done.headers["Location"] == INBOX
    assert agent.display_name in page_text(client.get(INBOX))
    db_session.refresh(agent)
    assert agent.totp_confirmed_at is not None


def test_an_enrolled_agent_is_asked_for_a_code_and_a_wrong_one_is_refused(
    client: FlaskClient, agent: Account
) -> None:
    app: Flask = client.application
    secret = enrolled_secret(app, agent.id)
    assert log_in(client, agent.email).headers["Location"] == SECOND_FACTOR_PAGE

    code = next_code(app, agent.id, secret)
    refused = submit_code(client, SECOND_FACTOR_PAGE, _wrong(code))

    assert refused.status_code == 401
    assert WRONG_CODE in page_text(refused)
    assert client.get(INBOX).status_code == 302
    accepted = submit_code(client, SECOND_FACTOR_PAGE, code)
    assert accepted.status_code == 302
    assert accepted.headers["Location"] == INBOX


def test_a_used_code_cannot_be_replayed(client: FlaskClient, agent: Account) -> None:
    app: Flask = client.application
    secret = enrolled_secret(app, agent.id)
    log_in(client, agent.email)
    code = next_code(app, agent.id, secret)
    assert submit_code(client, SECOND_FACTOR_PAGE, code).status_code == 302
    client.post("/deconnexion", data={"csrf_token": csrf_token(client, INBOX)})

    log_in(client, agent.email)
    replayed = submit_code(client, SECOND_FACTOR_PAGE, code)

    assert replayed.status_code == 401
    assert WRONG_CODE in page_text(replayed)
    assert client.get(INBOX).status_code == 302


def test_the_code_must_follow_the_password_within_five_minutes(
    client: FlaskClient, agent: Account, clock: FrozenClock
) -> None:
    app: Flask = client.application
    secret = enrolled_secret(app, agent.id)
    log_in(client, agent.email)
    token = csrf_token(client, SECOND_FACTOR_PAGE)
    clock.advance(timedelta(minutes=5))

    late = client.post(
        SECOND_FACTOR_PAGE, data={"code": next_code(app, agent.id, secret), "csrf_token": token}
    )

    assert late.status_code == 302
    assert late.headers["Location"] == "/connexion"
    assert "Votre connexion a expiré" in page_text(client.get("/connexion"))
    assert client.get(INBOX).status_code == 302
    assert client.get(SECOND_FACTOR_PAGE).headers["Location"] == "/connexion"


def test_repeated_wrong_codes_are_throttled(client: FlaskClient, agent: Account) -> None:
    app: Flask = client.application
    secret = enrolled_secret(app, agent.id)
    log_in(client, agent.email)
    code = next_code(app, agent.id, secret)
    for _ in range(5):
        assert submit_code(client, SECOND_FACTOR_PAGE, _wrong(code)).status_code == 401

    blocked = submit_code(client, SECOND_FACTOR_PAGE, code)

    assert blocked.status_code == 429
    assert "Trop de tentatives" in page_text(blocked)
    assert client.get(INBOX).status_code == 302


def test_the_next_page_asked_for_is_opened_after_the_code(
    client: FlaskClient, agent: Account
) -> None:
    app: Flask = client.application
    secret = enrolled_secret(app, agent.id)
    log_in(client, agent.email, next_url="/agent/taches?onglet=a-traiter")

    response = submit_code(client, SECOND_FACTOR_PAGE, next_code(app, agent.id, secret))

    assert response.headers["Location"] == "/agent/taches?onglet=a-traiter"


@pytest.mark.parametrize(("role", "home"), [(Role.AGENT, INBOX), (Role.ADMIN, "/admin/")])
def test_a_back_office_session_ends_after_thirty_idle_minutes(
    client: FlaskClient, db_session: Session, clock: FrozenClock, role: Role, home: str
) -> None:
    account = make_account(db_session, clock, role)
    assert sign_in_agent(client, account).status_code == 302
    clock.advance(timedelta(minutes=29))
    assert client.get(home).status_code == 200
    clock.advance(timedelta(minutes=30))
    assert client.get(home).status_code == 200

    clock.advance(timedelta(minutes=30, seconds=1))
    expired = client.get(home)

    assert expired.status_code == 302
    assert expired.headers["Location"] == f"/connexion?next={home}"
    assert "Votre session a expiré après une période d'inactivité" in page_text(
        client.get(expired.headers["Location"])
    )
    assert client.get(home).headers["Location"].startswith("/connexion?next=")


def test_an_idle_htmx_request_sends_the_whole_page_to_login(
    client: FlaskClient, agent: Account, clock: FrozenClock
) -> None:
    sign_in_agent(client, agent)
    clock.advance(timedelta(minutes=31))

    response = client.get(INBOX, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith("/connexion?next=")


def test_a_back_office_session_without_an_activity_mark_is_ended(
    client: FlaskClient, agent: Account
) -> None:
    sign_in_agent(client, agent)
    with client.session_transaction() as session:
        del session["back_office_seen_at"]

    assert client.get(INBOX).headers["Location"].startswith("/connexion?next=")


def test_families_log_in_with_the_password_alone_and_keep_their_idle_rule(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)

    response = log_in(client, family.email)
    clock.advance(timedelta(hours=2))

    assert response.headers["Location"] == "/famille/"
    assert client.get("/famille/").status_code == 200
    assert client.get(SECOND_FACTOR_PAGE).headers["Location"] == "/connexion"


@pytest.mark.browser
def test_a_demo_agent_enrols_in_the_browser_then_signs_in_with_a_code(tmp_path: Path) -> None:
    with serve_portal(tmp_path) as portal, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        page = context.new_page()
        failed: list[str] = []
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        page.goto(portal.url + "/connexion")
        page.get_by_label("Adresse électronique").fill(DEMO_AGENT)
        page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Se connecter").click()

        page.wait_for_url(portal.url + ENROLMENT_PAGE)
        qr_code = page.get_by_role("img", name="QR code à scanner")
        assert qr_code.evaluate("img => img.complete && img.naturalWidth > 0")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "agent-enrolement.png"), full_page=True)
        secret = page.locator("#cle-secrete").inner_text().replace(" ", "")
        page.get_by_label("Code à 6 chiffres").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Confirmer").click()
        page.wait_for_url(portal.url + INBOX)
        assert failed == []

        page.get_by_role("button", name="Se déconnecter").first.click()
        sign_in_agent_in_browser(page, portal.url, portal.app, DEMO_AGENT)
        assert page.url == portal.url + INBOX
        context.close()


def test_the_back_office_idle_time_comes_from_agent_idle_minutes(
    settings: Settings,
    sessions: sessionmaker[Session],
    db_session: Session,
    clock: FrozenClock,
) -> None:
    app = create_app(replace(settings, agent_idle_minutes=10), clock=clock)
    runtime(app).sessions = sessions
    client = app.test_client()
    assert sign_in_agent(client, make_agent(db_session, clock)).status_code == 302

    clock.advance(timedelta(minutes=10, seconds=1))

    assert client.get(INBOX).headers["Location"].startswith("/connexion?next=")
    runtime(app).engine.dispose()
    assert load_settings({"ENV": "test", "VAR_DIR": str(settings.var_dir)}).agent_idle_minutes == 30
