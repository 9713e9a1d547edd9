"""Links in e-mails come from BASE_URL only, and hosts the portal does not serve are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from accounts.models import Role, Service
from coffre.clock import FrozenClock
from notifications.models import OutboxMessage
from tests.factories import make_account
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token
from web import create_app
from web.runtime import runtime
from web.settings import ConfigError, load_settings

PUBLIC = "https://famille.ville.example"
INTERNAL = "portail.interne.example"  # an extra name, as a town's intranet would use
REFUSED = "Ce portail ne répond pas à cette adresse."


@pytest.fixture
def town_app(
    tmp_path: Path, database_url: str, sessions: sessionmaker[Session], clock: FrozenClock
) -> Iterator[Flask]:
    """The portal of a town whose public address is PUBLIC, also served as INTERNAL."""
    environ = {"ENV": "test", "VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": database_url}
    settings = load_settings({**environ, "BASE_URL": PUBLIC, "TRUSTED_HOSTS": f" {INTERNAL} ,"})
    app = create_app(settings, clock=clock)
    runtime(app).sessions = sessions
    yield app
    runtime(app).engine.dispose()


class HostClient(FlaskClient):
    """A browser that names its own host in every request (and keeps its cookies under it)."""

    host = "localhost"

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("base_url", f"http://{self.host}")
        return super().open(*args, **kwargs)


def client_for(app: Flask, host: str) -> FlaskClient:
    client = HostClient(app, app.response_class, use_cookies=True)
    client.host = host
    return client


def queued_links(session: Session, template: str) -> list[str]:
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.template == template))
    return [str(json.loads(message.context)["lien"]) for message in messages]


def test_a_reset_asked_under_a_forged_host_is_refused_and_queues_no_link(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    victim = make_account(db_session, clock, Role.FAMILLE)
    token = csrf_token(client, "/mot-de-passe-oublie")
    # The attacker replays its own session and CSRF token with a Host of its choosing.
    cookie = client.get_cookie("portail_session")
    assert cookie is not None
    client.set_cookie("portail_session", cookie.value, domain="evil.example")

    forged = client.post(
        "/mot-de-passe-oublie",
        base_url="http://evil.example",
        data={"email": victim.email, "csrf_token": token},
    )

    assert forged.status_code == 400
    assert forged.get_data(as_text=True) == REFUSED
    assert db_session.scalars(select(OutboxMessage)).all() == []


def test_a_reset_asked_under_an_extra_host_links_to_the_public_address(
    town_app: Flask, db_session: Session, clock: FrozenClock
) -> None:
    account = make_account(db_session, clock, Role.FAMILLE)
    client = client_for(town_app, INTERNAL)
    token = csrf_token(client, "/mot-de-passe-oublie")

    asked = client.post("/mot-de-passe-oublie", data={"email": account.email, "csrf_token": token})

    assert asked.status_code == 200
    (link,) = queued_links(db_session, "reinitialisation_mot_de_passe")
    assert link.startswith(PUBLIC + "/mot-de-passe/")


def test_an_agent_invitation_links_to_the_public_address(
    town_app: Flask, db_session: Session, clock: FrozenClock, ville: Service
) -> None:
    admin = make_account(db_session, clock, Role.ADMIN)
    client = client_for(town_app, INTERNAL)
    assert sign_in_agent(client, admin).status_code == 302
    form = {"email": "nadia@ville.example", "display_name": "Nadia", f"service-{ville.id}": "agent"}

    invited = client.post(
        "/admin/agents/inviter",
        data={**form, "csrf_token": csrf_token(client, "/admin/agents/inviter")},
    )

    assert invited.status_code == 302
    (link,) = queued_links(db_session, "invitation_agent")
    assert link.startswith(PUBLIC + "/admin/invitation/")


def test_only_the_served_hosts_are_answered(town_app: Flask) -> None:
    for host in (PUBLIC.removeprefix("https://"), INTERNAL, INTERNAL + ":8000"):
        assert client_for(town_app, host).get("/healthz").status_code == 200, host
    for host in ("evil.example", "localhost", "127.0.0.1", "famille.ville.example.evil.example"):
        refused = client_for(town_app, host).get("/connexion")
        assert refused.status_code == 400, host
        assert refused.get_data(as_text=True) == REFUSED
        assert refused.headers.get("Set-Cookie") is None  # no session was opened


def test_a_loopback_base_url_serves_every_loopback_name(app: Flask) -> None:
    # `make run` prints http://127.0.0.1:5000; people also open http://localhost:5000.
    for host in ("127.0.0.1:5000", "localhost:5000", "localhost"):
        assert client_for(app, host).get("/connexion").status_code == 200, host
    assert client_for(app, "evil.example").get("/connexion").status_code == 400


def test_trusted_hosts_setting_lists_extra_names(tmp_path: Path) -> None:
    environ = {"VAR_DIR": str(tmp_path), "BASE_URL": "https://famille.ville.example/"}

    plain = load_settings(environ)
    extra = load_settings({**environ, "TRUSTED_HOSTS": "Portail.Interne, 10.0.0.5 ,,"})

    assert plain.trusted_hosts == ()
    assert plain.served_hosts == ["famille.ville.example"]
    assert extra.served_hosts == ["famille.ville.example", "portail.interne", "10.0.0.5"]


@pytest.mark.parametrize(
    "wrong", ["famille.ville.example", "ftp://famille.ville.example", "https://"]
)
def test_a_base_url_without_scheme_or_host_is_refused(tmp_path: Path, wrong: str) -> None:
    with pytest.raises(ConfigError, match="BASE_URL"):
        load_settings({"VAR_DIR": str(tmp_path), "BASE_URL": wrong})
