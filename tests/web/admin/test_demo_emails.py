"""The demo's mailbox (/admin/courriels): in development only, for administrators only.

`make run` has no SMTP server: a newcomer reads the sign-up, reset and invitation e-mails
on this page and follows their links. Anywhere else the page does not exist.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account, Role
from coffre.clock import FrozenClock
from tests.factories import make_account, make_agent, page_text
from tests.web.agents import sign_in_agent
from tests.web.auth.test_account import BASE_URL, open_link, post, sign_up
from tests.web.auth.test_login import log_in
from web import create_app
from web.runtime import runtime
from web.settings import Settings

PAGE = "/admin/courriels"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The portal as `make run` starts it: ENV unset, that is development."""
    return dataclasses.replace(settings, env="development")


def _client_in(env: str, settings: Settings, sessions: sessionmaker[Session]) -> FlaskClient:
    app = create_app(dataclasses.replace(settings, env=env), clock=FrozenClock())
    runtime(app).sessions = sessions
    return app.test_client()


def test_a_newcomer_reads_the_sign_up_email_there_and_activates_the_account(
    app: Flask, client: FlaskClient, global_admin: Account
) -> None:
    assert app.config["TESTING"] is False  # the development portal, not the tests' one
    sign_up(client, "jeanne@example.org")
    admin = app.test_client()
    assert sign_in_agent(admin, global_admin).status_code == 302

    page = admin.get(PAGE)

    text = page_text(page)
    assert page.status_code == 200
    assert "Courriels de la démo" in text and "jeanne@example.org" in text
    assert "Activez votre compte sur le portail famille" in text  # the subject
    assert "Non envoyé" in text  # no SMTP server: nothing left the portal
    links = re.findall(r'<a class="fr-link" href="([^"]+)"', text)
    activation = [link for link in links if link.startswith(BASE_URL + "/activation/")]
    assert len(activation) == 1, links
    confirm = open_link(client, activation[0].removeprefix(BASE_URL))
    assert post(client, confirm).headers["Location"].endswith("/connexion")
    assert log_in(client, "jeanne@example.org").status_code == 302


def test_the_administration_links_to_it_in_development(
    client: FlaskClient, global_admin: Account
) -> None:
    sign_in_agent(client, global_admin)

    assert f'href="{PAGE}"' in page_text(client.get("/admin/"))


def test_only_administrators_open_it(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    agent = make_agent(db_session, clock)

    anonymous = client.get(PAGE)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/connexion")
    assert log_in(client, family.email).status_code == 302
    assert client.get(PAGE).status_code == 403
    other = client.application.test_client()
    assert sign_in_agent(other, agent).status_code == 302
    assert other.get(PAGE).status_code == 403


@pytest.mark.parametrize("env", ["production", "test"])
def test_it_does_not_exist_outside_development(
    env: str, settings: Settings, sessions: sessionmaker[Session], global_admin: Account
) -> None:
    client = _client_in(env, settings, sessions)
    assert client.get(PAGE).status_code == 404  # not even a login page: nothing to find
    assert sign_in_agent(client, global_admin).status_code == 302

    assert client.get(PAGE).status_code == 404
    assert PAGE not in page_text(client.get("/admin/"))
    runtime(client.application).engine.dispose()
