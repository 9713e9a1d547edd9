from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts import activation
from accounts.models import Role
from coffre.clock import FrozenClock
from tests.factories import PASSWORD, make_account, page_text

# A module import: agents imports this module back.
from tests.web import agents

SPACES = {Role.FAMILLE: "/famille/", Role.AGENT: "/agent/taches", Role.ADMIN: "/admin/"}


def csrf_token(client: FlaskClient, path: str = "/connexion") -> str:
    page = page_text(client.get(path))
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, "the page carries no CSRF token"
    return match.group(1)


def log_in(
    client: FlaskClient, email: str, password: str = PASSWORD, next_url: str = ""
) -> TestResponse:
    token = csrf_token(client)
    return client.post(
        "/connexion" + (f"?next={next_url}" if next_url else ""),
        data={"email": email, "password": password, "csrf_token": token},
    )


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.LOGICIEL])
def test_each_role_lands_in_its_own_space(
    client: FlaskClient, db_session: Session, clock: FrozenClock, role: Role
) -> None:
    account = make_account(db_session, clock, role)

    if role is Role.FAMILLE:
        response = log_in(client, account.email.upper())
    else:
        response = agents.sign_in_agent(client, account)

    assert response.status_code == 302
    assert response.headers["Location"] == SPACES[role]
    page = page_text(client.get(SPACES[role]))
    assert account.display_name in page


def test_a_family_signs_in_with_its_family_code_and_each_adult_with_their_password(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    other_password = "un autre mot de passe 2026"
    first = make_account(db_session, clock, Role.FAMILLE)
    second = make_account(
        db_session, clock, Role.FAMILLE, foyer_id=first.foyer_id, password=other_password
    )
    assert first.foyer_id is not None
    code, _one_time = activation.issue_family_code(db_session, clock, first.foyer_id)
    db_session.commit()
    typed = " " + code.lower().replace("-", "- ") + " "  # as read off a letter, spaces and all

    wrong = log_in(app_client(client), typed, "pas le bon mot de passe")
    as_first = log_in(app_client(client), typed)
    foyer_page = page_text(client.get("/famille/foyer"))
    as_second = log_in(app_client(client), typed, other_password)
    second_home = page_text(client.get("/famille/"))
    unknown = log_in(app_client(client), "F-INCONNU1")

    assert wrong.status_code == unknown.status_code == 401
    assert as_first.status_code == 302 and as_first.headers["Location"] == "/famille/"
    assert f"Code famille : {code}" in foyer_page
    assert as_second.status_code == 302
    assert second.display_name in second_home  # each adult opens their own account


def app_client(client: FlaskClient) -> FlaskClient:
    """The same browser, signed out first (each login below starts afresh)."""
    with client.session_transaction() as session:
        session.clear()
    return client


def test_an_api_client_account_never_signs_in_on_a_page(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.LOGICIEL)  # even given a real password

    response = log_in(client, account.email)

    assert response.status_code == 401
    assert "Adresse électronique ou mot de passe incorrect." in page_text(response)


def test_wrong_password_and_unknown_email_get_the_same_french_message(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)

    wrong = log_in(client, account.email, "not the password at all")
    unknown = log_in(client, "nobody@test.example")

    assert wrong.status_code == unknown.status_code == 401
    message = "Adresse électronique ou mot de passe incorrect."
    assert message in page_text(wrong)
    assert message in page_text(unknown)


def test_empty_form_is_refused_with_field_errors(client: FlaskClient) -> None:
    response = client.post("/connexion", data={"csrf_token": csrf_token(client)})

    assert response.status_code == 400
    assert "fr-input-group--error" in page_text(response)


def test_login_without_csrf_token_is_refused(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)

    response = client.post("/connexion", data={"email": account.email, "password": PASSWORD})

    assert response.status_code == 400
    assert "Le formulaire a expiré" in page_text(response)
    assert client.get("/famille/").status_code == 302


def test_anonymous_visitor_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/agent/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")


def test_family_cannot_open_the_agent_space(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    log_in(client, make_account(db_session, clock, Role.FAMILLE).email)

    response = client.get("/agent/")

    assert response.status_code == 403
    assert "Vous n'avez pas accès à cette page." in page_text(response)


def test_next_parameter_never_leaves_the_site(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)

    response = log_in(client, account.email, next_url="//evil.example/phish")

    assert response.headers["Location"] == "/famille/"


def test_logout_needs_a_post_with_csrf_and_ends_the_session(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    log_in(client, make_account(db_session, clock, Role.FAMILLE).email)
    token = csrf_token(client, "/famille/")

    assert client.get("/deconnexion").status_code == 405
    assert client.post("/deconnexion", data={"csrf_token": token}).status_code == 302
    assert client.get("/famille/").status_code == 302


def test_disabled_account_cannot_log_in(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.AGENT)
    account.is_active = False
    db_session.commit()

    assert log_in(client, account.email).status_code == 401


def test_repeated_failures_on_one_account_are_throttled(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)
    for _ in range(5):
        assert log_in(client, account.email, "wrong password!").status_code == 401

    response = log_in(client, account.email)

    assert response.status_code == 429
    assert "Trop de tentatives" in page_text(response)


def test_failures_from_one_address_are_throttled_across_accounts(
    app: Flask, client: FlaskClient
) -> None:
    statuses = [
        log_in(client, f"visitor{n}@test.example", "wrong password!").status_code for n in range(21)
    ]

    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
