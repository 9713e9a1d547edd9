"""API clients: the CLI that creates them, the rate limit, what the family sees of their reads."""

from __future__ import annotations

import dataclasses
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role, Service
from coffre.clock import FrozenClock
from interop import clients
from interop.models import ApiClient as ApiClientRow
from interop.models import ApiToken
from tests.factories import make_account, page_text
from tests.web.agent.test_demande import Case
from tests.web.agents import sign_in_agent
from tests.web.api.conftest import ApiClient, bearer, token_for
from tests.web.auth.test_login import csrf_token, log_in
from web import create_app
from web.runtime import runtime
from web.settings import Settings


def test_the_cli_creates_a_client_whose_secret_is_shown_once_and_kept_hashed(
    app: Flask, client: FlaskClient, db_session: Session, case: Case
) -> None:
    service = db_session.scalar(select(Service).where(Service.code == "petite-enfance"))
    assert service is not None
    result = app.test_cli_runner().invoke(
        args=["api", "client", "create", "--entite", service.entity.slug,
              "--scopes", "demandes:read,documents:read"]
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    values = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line)
    created = select(ApiClientRow).where(ApiClientRow.client_id == values["client_id"])
    row = db_session.scalar(created)
    assert row is not None and row.scopes == "demandes:read documents:read"
    assert values["client_secret"] not in row.secret_digest
    assert row.account.role is Role.LOGICIEL
    token = token_for(client, ApiClient(values["client_id"], values["client_secret"]))
    assert client.get("/api/v1/demandes", headers=bearer(token)).status_code == 200
    listed = app.test_cli_runner().invoke(args=["api", "client", "list"])
    assert values["client_id"] in listed.output and values["client_secret"] not in listed.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--entite", "nulle-part", "--scopes", "demandes:read"], "aucune entité"),
        (["--entite", "{slug}", "--scopes", "tout:lire"], "portées inconnues"),
    ],
)
def test_the_cli_refuses_an_unknown_entity_or_scope(
    app: Flask, db_session: Session, case: Case, arguments: list[str], message: str
) -> None:
    service = db_session.scalar(select(Service).where(Service.code == "petite-enfance"))
    assert service is not None
    args = [a.replace("{slug}", service.entity.slug) for a in arguments]
    result = app.test_cli_runner().invoke(args=["api", "client", "create", *args])

    assert result.exit_code == 2 and message in result.output
    assert db_session.scalars(select(ApiClientRow)).all() == []


def test_a_client_past_its_rate_limit_gets_a_429_problem(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    case: Case,
    api_client: ApiClient,
) -> None:
    limited = create_app(dataclasses.replace(settings, api_rate_limit="3/minute"), clock=clock)
    runtime(limited).sessions = sessions
    http = limited.test_client()
    token = token_for(http, api_client)

    answers = [http.get("/api/v1/demandes", headers=bearer(token)) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].mimetype == "application/problem+json"
    assert int(answers[-1].headers["Retry-After"]) >= 1
    runtime(limited).engine.dispose()


def test_the_family_sees_which_software_copied_its_document(
    app: Flask, client: FlaskClient, case: Case, token: str
) -> None:
    path = f"/api/v1/demandes/{case.demande_id}/documents/{case.address.id}/contenu"
    assert client.get(path, headers=bearer(token)).status_code == 200

    family = app.test_client()
    assert log_in(family, case.family.email).status_code == 302
    page = page_text(family.get(f"/famille/coffre/{case.address.id}/consultations"))
    assert "copié par le logiciel du service" in page
    assert "Service petite enfance" in page


def test_tokens_are_kept_as_digests_only(
    client: FlaskClient, db_session: Session, api_client: ApiClient, token: str
) -> None:
    rows = db_session.scalars(select(ApiToken)).all()
    assert [row.digest for row in rows] == [clients.digest(token)]


def test_an_administrator_creates_reads_the_calls_of_and_revokes_a_client(
    app: Flask, client: FlaskClient, db_session: Session, clock: FrozenClock, case: Case
) -> None:
    service = db_session.scalar(select(Service).where(Service.code == "petite-enfance"))
    assert service is not None
    admin = make_account(db_session, clock, Role.ADMIN)
    browser = app.test_client()
    assert sign_in_agent(browser, admin).status_code == 302
    token = csrf_token(browser, "/admin/clients-api")

    refused = browser.post(
        "/admin/clients-api",
        data={"csrf_token": token, "entite": service.entity_id, "nom": "Arpège"},
    )
    created = browser.post(
        "/admin/clients-api",
        data={"csrf_token": token, "entite": service.entity_id, "nom": "Arpège",
              "portees": ["demandes:read"]},
    )  # fmt: skip

    assert refused.status_code == 400 and "aucune portée" in page_text(refused)
    assert created.status_code == 201
    html = created.get_data(as_text=True)
    client_id = re.search(r'<code id="client-id">([^<]+)</code>', html)
    secret = re.search(r'<code id="client-secret">([^<]+)</code>', html)
    assert client_id and secret
    bearer_token = token_for(client, ApiClient(client_id.group(1), secret.group(1)))
    assert client.get("/api/v1/demandes", headers=bearer(bearer_token)).status_code == 200
    row = db_session.scalar(
        select(ApiClientRow).where(ApiClientRow.client_id == client_id.group(1))
    )
    assert row is not None and row.created_by == admin.id
    page = page_text(browser.get(f"/admin/clients-api/{row.id}"))
    assert "GET /api/v1/demandes" in page and "HTTP 200" in page
    assert secret.group(1) not in page

    revoked = browser.post(
        f"/admin/clients-api/{row.id}/revoquer",
        data={"csrf_token": csrf_token(browser, f"/admin/clients-api/{row.id}")},
    )
    assert revoked.status_code == 303
    assert client.get("/api/v1/demandes", headers=bearer(bearer_token)).status_code == 401
