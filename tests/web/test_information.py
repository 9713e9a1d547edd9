"""The information before sign-up (R.55-1): public and versioned, ticked at sign-up, accepted
again when a new version is published."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts import information
from accounts.credentials import find_account
from accounts.information import InformationVersion
from accounts.models import Account
from coffre.clock import FrozenClock
from coffre.models import Foyer
from notifications.models import OutboxMessage
from tests.factories import PASSWORD, make_agent, page_text
from tests.web.agents import sign_in_agent
from tests.web.auth.test_account import post
from tests.web.auth.test_login import csrf_token, log_in

TEMPLATES = "web/templates/information"


@pytest.fixture
def version_2(app: Flask, monkeypatch: pytest.MonkeyPatch) -> InformationVersion:
    """The town publishes a second version of the text."""
    published = InformationVersion("2", date(2027, 3, 1))
    monkeypatch.setattr(information, "VERSIONS", (*information.VERSIONS, published))
    texts = DictLoader({"information/2.html": "<h2>Texte de la version deux</h2>"})
    app.jinja_env.loader = ChoiceLoader([texts, app.jinja_env.loader])  # type: ignore[list-item]
    return published


def sign_up(client: FlaskClient, **extra: str) -> str:
    fields = {"email": "jeanne@example.org", "name": "Jeanne Martin"}
    response = post(client, "/inscription", password=PASSWORD, confirm=PASSWORD, **fields, **extra)
    return f"{response.status_code} {page_text(response)}"


def test_the_information_is_public_and_shows_the_version_in_force(client: FlaskClient) -> None:
    page = client.get("/coffre/information")

    text = page_text(page)
    assert page.status_code == 200
    assert "Version 1, publiée le 7 décembre 2026." in text
    for heading in (
        "Comment vos documents sont protégés",
        "Qui peut lire vos documents, et quand",
        "Combien de temps ils sont conservés",
        "Récupérer vos documents",
        "Fermer votre espace",
    ):
        assert heading in text
    assert "n’est plus en vigueur" not in text
    assert 'href="/coffre/information"' in page_text(client.get("/"))  # the footer's link


def test_every_published_version_has_its_text() -> None:
    folder = Path(__file__).parents[2] / TEMPLATES
    files = {p.stem for p in folder.glob("*.html") if not p.name.startswith("_")}
    assert files == {v.identifier for v in information.VERSIONS}


def test_an_older_version_stays_readable_at_its_own_address(
    client: FlaskClient, version_2: InformationVersion
) -> None:
    in_force = page_text(client.get("/coffre/information"))
    older = client.get("/coffre/information/version-1")

    assert "Texte de la version deux" in in_force
    assert older.status_code == 200
    assert "Version 1, publiée le 7 décembre 2026." in page_text(older)
    assert "Cette version n’est plus en vigueur" in page_text(older)
    assert "Comment vos documents sont protégés" in page_text(older)
    assert client.get("/coffre/information/version-9").status_code == 404


def test_the_sign_up_page_links_the_information_and_names_its_version(
    client: FlaskClient,
) -> None:
    page = page_text(client.get("/inscription"))

    assert 'href="/coffre/information"' in page
    assert "J’ai lu l’information sur l’espace famille (version 1 du 7 décembre 2026)." in page


def test_sign_up_without_ticking_the_box_is_refused_and_creates_nothing(
    client: FlaskClient, db_session: Session
) -> None:
    answer = sign_up(client)

    assert answer.startswith("400 ")
    assert "Cochez cette case pour créer votre compte" in answer
    assert find_account(db_session, "jeanne@example.org") is None
    assert db_session.scalar(select(func.count()).select_from(Foyer)) == 0
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_sign_up_records_the_version_accepted_and_when(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    answer = sign_up(client, information="y")

    assert answer.startswith("200 ") and "Consultez votre messagerie" in answer
    account = find_account(db_session, "jeanne@example.org")
    assert account is not None
    assert account.information_version == "1"
    assert account.information_accepted_at == clock.now()


def test_a_sign_up_page_read_before_a_new_version_does_not_accept_it(
    client: FlaskClient, db_session: Session, version_2: InformationVersion
) -> None:
    answer = sign_up(client, information="y", information_version="1")

    assert answer.startswith("400 ") and "L’information vient de changer" in answer
    assert find_account(db_session, "jeanne@example.org") is None


def test_a_new_version_is_asked_at_the_next_visit(
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
    version_2: InformationVersion,
) -> None:
    clock.advance(timedelta(days=1))
    redirected = family_client.get("/famille/coffre")
    page = page_text(family_client.get("/famille/information"))
    token = csrf_token(family_client, "/famille/information")
    unticked = family_client.post("/famille/information", data={"csrf_token": token})

    assert redirected.status_code == 302
    assert redirected.headers["Location"] == "/famille/information"
    assert "L’information sur l’espace famille a changé" in page
    assert "Texte de la version deux" in page
    assert 'href="/coffre/information/version-1"' in page  # the one accepted before
    assert family_client.get("/famille/coffre/export").status_code == 200  # still reachable
    assert unticked.status_code == 400 and "Cochez cette case pour continuer" in page_text(unticked)

    accepted = family_client.post(
        "/famille/information", data={"csrf_token": token, "information": "y"}
    )

    assert accepted.status_code == 302 and accepted.headers["Location"] == "/famille/"
    db_session.refresh(family)
    assert (family.information_version, family.information_accepted_at) == ("2", clock.now())
    assert family_client.get("/famille/coffre").status_code == 200


def test_an_account_that_never_accepted_the_information_reads_it_first(
    client: FlaskClient, family: Account, db_session: Session, clock: FrozenClock
) -> None:
    family.information_version = None  # made before the information existed
    db_session.commit()
    assert log_in(client, family.email).status_code == 302

    first = client.get("/famille/")
    page = page_text(client.get("/famille/information"))
    token = csrf_token(client, "/famille/information")
    client.post("/famille/information", data={"csrf_token": token, "information": "y"})

    assert first.headers["Location"] == "/famille/information"
    assert "Avant d’utiliser votre espace famille" in page
    assert client.get("/famille/").status_code == 200
    db_session.refresh(family)
    assert (family.information_version, family.information_accepted_at) == ("1", clock.now())


def test_agents_are_never_asked(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    agent = make_agent(db_session, clock)

    assert sign_in_agent(client, agent).status_code == 302
    assert agent.information_version is None
    inbox = client.get("/agent/", follow_redirects=True)
    assert inbox.status_code == 200 and inbox.request.path != "/famille/information"
