"""« S'identifier avec FranceConnect » against a real OpenID provider on loopback.

The provider (oidc-provider-mock, Authlib's server) runs in a thread; like FranceConnect v2
it signs its userinfo as a JWT. Each test drives the authorization code flow: the portal's
redirect, the provider's consent form, the callback with its code and state.
"""

from __future__ import annotations

import dataclasses
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import flask
import oidc_provider_mock
import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from accounts.models import Account, FederatedIdentity, Role
from coffre.clock import FrozenClock
from coffre.models import Foyer
from tests.factories import make_account, page_text
from tests.web.auth.test_login import csrf_token
from web import create_app
from web.runtime import runtime
from web.settings import Settings

IDENTITY = {
    "given_name": "Camille Anne",
    "family_name": "MARTIN",
    "birthdate": "1988-04-02",
    "email": "camille.fc@test.example",
    "birthplace": "75056",
    "birthcountry": "99100",
    "gender": "female",
}


class Provider:
    """The OpenID provider on a loopback port; `sign_with` swaps the userinfo's signing key."""

    def __init__(self, **options: Any) -> None:
        self.app = oidc_provider_mock.app(
            user_claims=[oidc_provider_mock.User(sub="fc-sub-1", claims=IDENTITY)], **options
        )
        self.forged_key: RSAKey | None = None
        provider = self

        @self.app.after_request
        def signed_userinfo(response: flask.Response) -> flask.Response:
            # FranceConnect v2 answers its userinfo as a signed JWT.
            if flask.request.path != "/userinfo" or response.status_code != 200:
                return response
            own = flask.g.oidc_provider_mock_storage.jwk.as_dict(is_private=True)
            key = provider.forged_key or RSAKey.import_key(own)
            claims = {**response.get_json(), "iss": flask.request.host_url.rstrip("/")}
            token = jwt.encode({"alg": "RS256", "kid": own.get("kid")}, claims, key)
            return flask.Response(token, content_type="application/jwt")

        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def consent(self, authorize_url: str, sub: str = "fc-sub-1") -> dict[str, str]:
        """The person confirms on the provider's page; returns the callback's query."""
        body = urllib.parse.urlencode({"sub": sub}).encode()
        request = urllib.request.Request(authorize_url, data=body, method="POST")  # noqa: S310
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            opener.open(request)
        except urllib.error.HTTPError as answer:
            location = answer.headers["Location"]
            answer.close()
            return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        raise AssertionError("the provider did not redirect back")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider()
    yield running
    running.close()


def portal(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock, provider: Provider
) -> Flask:
    configured = dataclasses.replace(
        settings,
        franceconnect_url=provider.url,
        franceconnect_client_id="portail-bellerive",
        franceconnect_client_secret="secret-de-test",
        franceconnect_scopes="openid profile email",
    )
    app = create_app(configured, clock=clock)
    runtime(app).sessions = sessions
    return app


@pytest.fixture
def fc_app(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock, provider: Provider
) -> Iterator[Flask]:
    app = portal(settings, sessions, clock, provider)
    yield app
    runtime(app).engine.dispose()


def through_franceconnect(
    http: FlaskClient, provider: Provider, sub: str = "fc-sub-1"
) -> TestResponse:
    """The whole round trip, up to the portal's answer to the callback."""
    start = http.get("/connexion/franceconnect")
    assert start.status_code == 302, start.data
    authorize = start.headers["Location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
    assert query["acr_values"] == "eidas1" and query["nonce"] and query["state"]
    assert query["redirect_uri"] == "http://127.0.0.1:5000/connexion/franceconnect/retour"
    back = provider.consent(authorize, sub)
    return http.get("/connexion/franceconnect/retour", query_string=back)


def test_a_first_sign_in_creates_the_family_account_from_the_identity(
    fc_app: Flask, provider: Provider, db_session: Session
) -> None:
    http = fc_app.test_client()
    back = through_franceconnect(http, provider)
    assert back.status_code == 303 and back.headers["Location"] == "/connexion/franceconnect/lier"
    page = http.get("/connexion/franceconnect/lier")
    assert "Camille Martin" in page_text(page)
    token = csrf_token(http, "/connexion/franceconnect/lier")

    created = http.post(
        "/connexion/franceconnect/lier",
        data={
            "csrf_token": token,
            "choix": "creer",
            "information": "y",
            "email": IDENTITY["email"],
        },
    )

    assert created.status_code == 303 and created.headers["Location"] == "/famille/"
    account = db_session.scalar(select(Account).where(Account.email == IDENTITY["email"]))
    assert account is not None and account.role is Role.FAMILLE and account.is_active
    foyer = db_session.get(Foyer, account.foyer_id)
    assert foyer is not None
    [adult] = foyer.members
    assert (adult.first_name, adult.last_name, str(adult.birth_date)) == (
        "Camille", "Martin", "1988-04-02"
    )  # fmt: skip
    assert http.get("/famille/").status_code == 200
    # The next time, FranceConnect opens the account straight away.
    again = fc_app.test_client()
    assert through_franceconnect(again, provider).headers["Location"] == "/famille/"


def test_a_first_sign_in_links_an_existing_account_after_its_password(
    fc_app: Flask, provider: Provider, db_session: Session, clock: FrozenClock
) -> None:
    existing = make_account(db_session, clock, Role.FAMILLE)
    http = fc_app.test_client()
    through_franceconnect(http, provider)
    token = csrf_token(http, "/connexion/franceconnect/lier")
    wrong = http.post(
        "/connexion/franceconnect/lier",
        data={"csrf_token": token, "choix": "lier", "email": existing.email, "password": "non"},
    )
    taken = http.post(
        "/connexion/franceconnect/lier",
        data={"csrf_token": token, "choix": "creer", "information": "y", "email": existing.email},
    )
    linked = http.post(
        "/connexion/franceconnect/lier",
        data={"csrf_token": token, "choix": "lier", "email": existing.email,
              "password": "correct horse battery staple"},
    )  # fmt: skip

    assert wrong.status_code == 401
    assert taken.status_code == 409  # never linked on the e-mail address alone
    assert linked.status_code == 303, page_text(linked)
    links = db_session.scalars(select(FederatedIdentity)).all()
    assert [(link.subject, link.account_id) for link in links] == [("fc-sub-1", existing.id)]


def test_a_first_sign_in_makes_no_account_before_the_information_is_read(
    fc_app: Flask, provider: Provider, db_session: Session
) -> None:
    http = fc_app.test_client()
    through_franceconnect(http, provider)
    page = page_text(http.get("/connexion/franceconnect/lier"))
    token = csrf_token(http, "/connexion/franceconnect/lier")
    creating = {"csrf_token": token, "choix": "creer", "email": IDENTITY["email"]}

    unticked = http.post("/connexion/franceconnect/lier", data=creating)
    nothing = db_session.scalar(select(Account).where(Account.email == IDENTITY["email"]))
    ticked = http.post("/connexion/franceconnect/lier", data={**creating, "information": "y"})

    assert 'href="/coffre/information"' in page
    assert unticked.status_code == 400 and nothing is None
    assert "Cochez cette case pour créer votre compte" in page_text(unticked)
    assert ticked.status_code == 303
    account = db_session.scalar(select(Account).where(Account.email == IDENTITY["email"]))
    assert account is not None and account.information_version == "1"
    assert account.information_accepted_at is not None
    assert http.get("/famille/").status_code == 200  # nothing more to read


def test_an_identity_without_names_or_address_asks_for_a_valid_address(
    fc_app: Flask, provider: Provider, db_session: Session
) -> None:
    http = fc_app.test_client()
    through_franceconnect(http, provider, sub="fc-sans-nom")  # the provider knows only the sub
    token = csrf_token(http, "/connexion/franceconnect/lier")

    invalid = http.post(
        "/connexion/franceconnect/lier",
        data={"csrf_token": token, "choix": "creer", "information": "y", "email": "fc-sans-nom"},
    )
    created = http.post(
        "/connexion/franceconnect/lier",
        data={
            "csrf_token": token,
            "choix": "creer",
            "information": "y",
            "email": "sans.nom@test.example",
        },
    )

    assert invalid.status_code == 400 and "adresse électronique valide" in page_text(invalid)
    assert created.status_code == 303
    account = db_session.scalar(select(Account).where(Account.email == "sans.nom@test.example"))
    assert account is not None and account.display_name == "Parent"


def test_an_adult_unlinks_franceconnect(
    fc_app: Flask, provider: Provider, db_session: Session
) -> None:
    http = fc_app.test_client()
    through_franceconnect(http, provider)
    token = csrf_token(http, "/connexion/franceconnect/lier")
    http.post(
        "/connexion/franceconnect/lier",
        data={
            "csrf_token": token,
            "choix": "creer",
            "information": "y",
            "email": IDENTITY["email"],
        },
    )
    foyer_page = http.get("/famille/foyer")
    assert "FranceConnect" in page_text(foyer_page)

    unlinked = http.post(
        "/famille/franceconnect/delier", data={"csrf_token": csrf_token(http, "/famille/foyer")}
    )

    assert unlinked.status_code == 303
    assert db_session.scalars(select(FederatedIdentity)).all() == []
    fresh = fc_app.test_client()
    assert (
        through_franceconnect(fresh, provider).headers["Location"]
        == "/connexion/franceconnect/lier"
    )


def test_signing_out_ends_the_franceconnect_session_too(fc_app: Flask, provider: Provider) -> None:
    http = fc_app.test_client()
    through_franceconnect(http, provider)
    token = csrf_token(http, "/connexion/franceconnect/lier")
    http.post(
        "/connexion/franceconnect/lier",
        data={
            "csrf_token": token,
            "choix": "creer",
            "information": "y",
            "email": IDENTITY["email"],
        },
    )

    out = http.post("/deconnexion", data={"csrf_token": csrf_token(http, "/famille/foyer")})

    assert out.status_code == 302
    target = urllib.parse.urlsplit(out.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == provider.url
    params = dict(urllib.parse.parse_qsl(target.query))
    assert (
        params["id_token_hint"] and params["post_logout_redirect_uri"] == "http://127.0.0.1:5000/"
    )
    assert http.get("/famille/").status_code == 302  # signed out of the portal


def test_a_wrong_nonce_is_refused(fc_app: Flask, provider: Provider) -> None:
    http = fc_app.test_client()
    start = http.get("/connexion/franceconnect")
    back = provider.consent(start.headers["Location"])
    with http.session_transaction() as session:
        for key, value in session.items():
            if key.startswith("_state_franceconnect_"):
                value["data"]["nonce"] = "un-autre-nonce"
                session[key] = value

    answer = http.get("/connexion/franceconnect/retour", query_string=back)

    assert answer.status_code == 303 and answer.headers["Location"] == "/connexion"
    with http.session_transaction() as session:
        assert "franceconnect_identity" not in session


def test_a_forged_state_is_refused(fc_app: Flask, provider: Provider) -> None:
    http = fc_app.test_client()
    start = http.get("/connexion/franceconnect")
    back = provider.consent(start.headers["Location"])

    answer = http.get(
        "/connexion/franceconnect/retour", query_string={**back, "state": "etat-forge"}
    )

    assert answer.headers["Location"] == "/connexion"


def test_a_userinfo_signed_with_another_key_is_refused(fc_app: Flask, provider: Provider) -> None:
    provider.forged_key = RSAKey.generate_key(2048)
    http = fc_app.test_client()

    answer = through_franceconnect(http, provider)

    assert answer.headers["Location"] == "/connexion"
    assert "n'a pas abouti" in page_text(http.get("/connexion"))


def test_an_expired_id_token_is_refused(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    expired = Provider(access_token_max_age=timedelta(minutes=-10))
    app = portal(settings, sessions, clock, expired)
    try:
        answer = through_franceconnect(app.test_client(), expired)
        assert answer.headers["Location"] == "/connexion"
    finally:
        expired.close()
        runtime(app).engine.dispose()


def test_without_configuration_there_is_no_franceconnect(client: FlaskClient) -> None:
    assert client.get("/connexion/franceconnect").status_code == 404
    assert "FranceConnect" not in page_text(client.get("/connexion"))


def test_pages_let_a_form_lead_to_franceconnect_and_nowhere_else(
    fc_app: Flask, provider: Provider, client: FlaskClient
) -> None:
    """The button's form and the sign-out form end on the provider's pages (CSP form-action)."""
    configured = fc_app.test_client().get("/connexion").headers["Content-Security-Policy"]
    plain = client.get("/connexion").headers["Content-Security-Policy"]

    assert f"form-action 'self' {provider.url};" in configured
    assert "form-action 'self';" in plain
