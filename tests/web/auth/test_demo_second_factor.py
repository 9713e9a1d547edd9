"""The demo's agents sign in without an authenticator app: in development on a loopback
address only, the code pages show the code of the moment. In production, the tests' portal
or a server left in development on a public address, they never do."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account
from coffre.clock import FrozenClock
from tests.factories import make_agent, page_text
from tests.web.agents import SECOND_FACTOR_PAGE, enrolled_secret, submit_code
from tests.web.auth.test_login import log_in
from web import create_app
from web.runtime import runtime
from web.settings import Settings

ENROLMENT_PAGE = "/connexion/enrolement"
HINT = re.compile(r"le code du moment est (\d{6})")


def _client_in(
    env: str, settings: Settings, sessions: sessionmaker[Session], base_url: str = ""
) -> FlaskClient:
    base_url = base_url or settings.base_url
    app = create_app(dataclasses.replace(settings, env=env, base_url=base_url), clock=FrozenClock())
    runtime(app).sessions = sessions
    app.config["SERVER_NAME"] = urlsplit(base_url).netloc  # the test client asks for it
    return app.test_client()


def _shown_code(client: FlaskClient, page: str) -> str | None:
    match = HINT.search(page_text(client.get(page)))
    return match.group(1) if match else None


def test_in_development_an_agent_enrols_and_signs_in_with_the_shown_codes(
    settings: Settings, sessions: sessionmaker[Session], db_session: Session, clock: FrozenClock
) -> None:
    agent = make_agent(db_session, clock)
    client = _client_in("development", settings, sessions)

    assert log_in(client, agent.email).headers["Location"] == ENROLMENT_PAGE
    first = _shown_code(client, ENROLMENT_PAGE)
    assert first is not None
    assert submit_code(client, ENROLMENT_PAGE, first).headers["Location"] == "/agent/taches"

    again = client.application.test_client()
    assert log_in(again, agent.email).headers["Location"] == SECOND_FACTOR_PAGE
    second = _shown_code(again, SECOND_FACTOR_PAGE)
    assert second is not None and second != first  # the first one is spent
    assert submit_code(again, SECOND_FACTOR_PAGE, second).headers["Location"] == "/agent/taches"
    runtime(client.application).engine.dispose()


@pytest.mark.parametrize(
    ("env", "base_url"),
    [("production", ""), ("test", ""), ("development", "http://portail.bellerive.example")],
)
def test_elsewhere_the_code_pages_show_no_code(
    env: str, base_url: str, settings: Settings, sessions: sessionmaker[Session],
    db_session: Session, clock: FrozenClock,
) -> None:  # fmt: skip
    new_agent: Account = make_agent(db_session, clock)
    enrolled: Account = make_agent(db_session, clock)
    client = _client_in(env, settings, sessions, base_url)
    enrolled_secret(client.application, enrolled.id)

    log_in(client, new_agent.email)
    enrolment = page_text(client.get(ENROLMENT_PAGE))
    other = client.application.test_client()
    log_in(other, enrolled.email)
    second_factor = page_text(other.get(SECOND_FACTOR_PAGE))

    assert "Configurer vos codes de vérification" in enrolment  # the page itself is there
    assert "Code de vérification" in second_factor
    for page in (enrolment, second_factor):
        assert "code du moment" not in page and "code-demonstration" not in page
    runtime(client.application).engine.dispose()
