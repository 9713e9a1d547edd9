"""Sessions end server-side: logout, a new password, a second-factor reset and deactivation
end every session of the account, even a cookie copied elsewhere."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts import activation
from accounts.models import Account, Service
from coffre.clock import FrozenClock
from tests.factories import PASSWORD, make_agent
from tests.web.admin.test_organisation import post, signed_in
from tests.web.auth.test_login import csrf_token, log_in
from web.runtime import runtime

NEW_PASSWORD = "a brand new passphrase"
AGENT_HOME = "/agent/taches"


def copy_session(app: Flask, source: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `source`'s session cookie (a stolen cookie)."""
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = source.get_cookie(name)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(name, cookie.value)
    return thief


def is_in(client: FlaskClient, home: str) -> bool:
    """Whether the client's session still opens its home page (a dead one goes to login)."""
    response = client.get(home)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def family_device(app: Flask, family: Account) -> FlaskClient:
    device = app.test_client()
    assert log_in(device, family.email).status_code == 302
    return device


def test_a_cookie_copied_before_logout_no_longer_works_after_logout(
    app: Flask, family_client: FlaskClient
) -> None:
    thief = copy_session(app, family_client)
    assert is_in(thief, "/famille/")

    token = csrf_token(family_client, "/famille/")
    assert family_client.post("/deconnexion", data={"csrf_token": token}).status_code == 302

    assert not is_in(thief, "/famille/")
    assert not is_in(family_client, "/famille/")


def test_logout_ends_the_sessions_of_every_device(app: Flask, family: Account) -> None:
    phone, laptop = family_device(app, family), family_device(app, family)

    phone.post("/deconnexion", data={"csrf_token": csrf_token(phone, "/famille/")})

    assert not is_in(laptop, "/famille/")


def test_a_password_change_ends_the_other_devices_and_keeps_this_one(
    app: Flask, family: Account
) -> None:
    phone, laptop = family_device(app, family), family_device(app, family)

    changed = phone.post(
        "/famille/mot-de-passe",
        data={
            "current": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(phone, "/famille/mot-de-passe"),
        },
    )

    assert changed.status_code == 302
    assert is_in(phone, "/famille/")
    assert not is_in(laptop, "/famille/")
    assert log_in(laptop, family.email, NEW_PASSWORD).status_code == 302


def test_a_password_reset_by_link_ends_every_session(
    app: Flask, family: Account, family_client: FlaskClient, db_session: Session
) -> None:
    rt = runtime(app)
    secret = rt.settings.secret_key
    token = activation.reset_token(secret, rt.clock, family)

    activation.reset_password(
        db_session, rt.clock, secret=secret, token=token, password=NEW_PASSWORD
    )

    assert not is_in(family_client, "/famille/")


def test_an_admin_second_factor_reset_ends_the_agents_sessions(
    app: Flask, db_session: Session, clock: FrozenClock, ville: Service, ville_admin: Account
) -> None:
    agent = make_agent(db_session, clock, ville)
    agent_client = signed_in(app, agent)
    assert is_in(agent_client, AGENT_HOME)
    admin = signed_in(app, ville_admin)

    reset = post(admin, f"/admin/agents/{agent.id}/second-facteur", f"/admin/agents/{agent.id}")

    assert reset.status_code == 302
    assert not is_in(agent_client, AGENT_HOME)


def test_deactivation_ends_the_agents_sessions_for_good(
    app: Flask, db_session: Session, clock: FrozenClock, ville: Service, ville_admin: Account
) -> None:
    agent = make_agent(db_session, clock, ville)
    agent_client = signed_in(app, agent)
    admin = signed_in(app, ville_admin)
    page = f"/admin/agents/{agent.id}"

    assert post(admin, f"{page}/desactiver", page).status_code == 302
    assert not is_in(agent_client, AGENT_HOME)
    assert post(admin, f"{page}/reactiver", page).status_code == 302

    # Reactivated, the agent signs in again: the session of before stays dead.
    assert not is_in(agent_client, AGENT_HOME)
    assert is_in(signed_in(app, agent), AGENT_HOME)
