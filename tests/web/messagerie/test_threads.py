"""The messages pages, through the routes: a family writes to a service with a document of its
vault, an agent of the service reads it and answers, each sees the other's read receipt, the
e-mail says nothing of the message; nobody else reaches the thread."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, AgentService, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document
from demo.seed import demo_pdf
from messagerie.models import Thread
from notifications import outbox
from notifications.outbox import MailSettings
from tests.factories import make_account, make_agent, make_service, page_text
from tests.fixtures import Mailbox
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from web.runtime import runtime

BODY = "Ma fille commence la cantine lundi, voici l'attestation."
SUBJECT = "Cantine de Léa"
NEW = "/famille/messages/nouveau"


@pytest.fixture
def service(db_session: Session) -> Service:
    return make_service(db_session)


@pytest.fixture
def agent_client(
    app: Flask, db_session: Session, clock: FrozenClock, service: Service
) -> FlaskClient:
    """A second browser: an agent of `service`, signed in."""
    client = app.test_client()
    assert sign_in_agent(client, make_agent(db_session, clock, service)).status_code == 302
    return client


@pytest.fixture
def document(app: Flask, db_session: Session, family: Account) -> Document:
    assert family.foyer_id is not None
    content = demo_pdf("Attestation")
    return deposit(app, db_session, family.foyer_id, filename="attestation.pdf", content=content)


def write(
    client: FlaskClient, service: Service, body: str = BODY, documents: tuple[int, ...] = ()
) -> tuple[int, str]:
    """Open a thread from the family's form; returns the status and where it led."""
    form = {
        "service": str(service.id),
        "objet": SUBJECT,
        "message": body,
        "document": [str(d) for d in documents],
        "csrf_token": csrf_token(client, NEW),
    }
    response = client.post(NEW, data=form)
    return response.status_code, response.headers.get("Location", page_text(response))


def thread_of(location: str) -> int:
    match = re.fullmatch(r"/famille/messages/(\d+)", location)
    assert match, location
    return int(match.group(1))


def reply(client: FlaskClient, path: str, body: str) -> int:
    form = {"message": body, "csrf_token": csrf_token(client, path)}
    return client.post(path, data=form).status_code


def test_a_family_writes_with_a_document_and_the_agent_answers(
    family_client: FlaskClient,
    agent_client: FlaskClient,
    service: Service,
    document: Document,
) -> None:
    status, location = write(family_client, service, documents=(document.id,))
    assert status == 302
    thread_id = thread_of(location)
    page = page_text(family_client.get(location))
    assert SUBJECT in page and BODY in page and "Pas encore lu" in page
    assert "attestation.pdf" in page and "Retirer le partage" in page

    listing = page_text(agent_client.get("/agent/messages"))
    assert SUBJECT in listing and "1 non lu" in listing
    agent_page = page_text(agent_client.get(f"/agent/messages/{thread_id}"))
    assert BODY in agent_page
    file = agent_client.get(f"/agent/messages/{thread_id}/documents/{document.id}/fichier")
    assert file.status_code == 200 and file.data.startswith(b"%PDF")
    assert reply(agent_client, f"/agent/messages/{thread_id}", "Bien reçu, merci.") == 302

    # The family's navigation counts the answer until the family opens the thread.
    home = page_text(family_client.get("/famille/messages"))
    assert "1 non lu" in home
    page = page_text(family_client.get(location))
    assert "Bien reçu, merci." in page and "Lu le " in page and "Pas encore lu" not in page
    assert service.name in page
    assert "non lu" not in page_text(family_client.get("/famille/messages"))
    # The agent's answer now carries the family's receipt.
    assert "Lu le " in page_text(agent_client.get(f"/agent/messages/{thread_id}"))


def test_withdrawing_the_sharing_ends_the_agents_access(
    family_client: FlaskClient,
    agent_client: FlaskClient,
    service: Service,
    document: Document,
) -> None:
    _status, location = write(family_client, service, documents=(document.id,))
    thread_id = thread_of(location)
    file = f"/agent/messages/{thread_id}/documents/{document.id}/fichier"
    assert agent_client.get(file).status_code == 200

    token = csrf_token(family_client, location)
    withdraw = f"{location}/documents/{document.id}/retirer"
    assert family_client.post(withdraw, data={"csrf_token": token}).status_code == 302
    assert "partage retiré le" in page_text(family_client.get(location))
    assert agent_client.get(file).status_code == 404
    agent_page = page_text(agent_client.get(f"/agent/messages/{thread_id}"))
    assert "partage retiré par la famille le" in agent_page
    assert file not in agent_page


def test_another_foyer_and_another_service_get_not_found(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    service: Service,
    document: Document,
) -> None:
    _status, location = write(family_client, service, documents=(document.id,))
    thread_id = thread_of(location)

    stranger = app.test_client()
    assert log_in(stranger, make_account(db_session, clock, Role.FAMILLE).email).status_code == 302
    token = csrf_token(stranger, "/famille/messages")
    assert stranger.get(location).status_code == 404
    assert stranger.post(location, data={"message": "x", "csrf_token": token}).status_code == 404
    withdraw = f"{location}/documents/{document.id}/retirer"
    assert stranger.post(withdraw, data={"csrf_token": token}).status_code == 404
    assert SUBJECT not in page_text(stranger.get("/famille/messages"))

    outsider = app.test_client()
    other_service = make_service(db_session)
    assert sign_in_agent(outsider, make_agent(db_session, clock, other_service)).status_code == 302
    token = csrf_token(outsider, "/agent/messages")
    agent_path = f"/agent/messages/{thread_id}"
    assert outsider.get(agent_path).status_code == 404
    assert outsider.post(agent_path, data={"message": "x", "csrf_token": token}).status_code == 404
    assert outsider.get(f"{agent_path}/documents/{document.id}/fichier").status_code == 404
    assert SUBJECT not in page_text(outsider.get("/agent/messages"))
    # A family is not an agent, an agent is not a family.
    assert family_client.get(agent_path).status_code == 403
    assert outsider.get("/famille/messages").status_code == 403


def test_forms_need_their_csrf_token_and_say_what_is_wrong_in_french(
    family_client: FlaskClient, service: Service
) -> None:
    form = {"service": str(service.id), "objet": SUBJECT, "message": BODY}
    assert family_client.post(NEW, data=form).status_code == 400

    status, page = write(family_client, service, body="   ")
    assert status == 400 and "Écrivez votre message avant de l'envoyer." in page
    status, page = write(family_client, service, body="x" * 5001)
    assert status == 400 and "Votre message est trop long : 5000 caractères au plus." in page
    assert page_text(family_client.get("/famille/messages")).count(SUBJECT) == 0


def test_the_notice_has_a_base_url_link_and_none_of_the_message(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family: Account,
    family_client: FlaskClient,
    agent_client: FlaskClient,
    service: Service,
    mail: MailSettings,
    mailbox: Mailbox,
) -> None:
    _status, location = write(family_client, service)
    thread_id = thread_of(location)
    assert reply(agent_client, f"/agent/messages/{thread_id}", "Réponse confidentielle") == 302
    outbox.send_due(db_session, clock, mail)

    (notice,) = mailbox.to(family.email)
    text = notice["Subject"] + "\n" + notice.get_content()
    assert notice["Subject"] == f"Vous avez un nouveau message de {service.name}"
    assert runtime(app).settings.base_url + location in text
    for secret in (SUBJECT, BODY, "Réponse confidentielle"):
        assert secret not in text
    (agent_notice,) = [m for m in mailbox.messages if m["To"] != family.email]
    agent_text = agent_notice["Subject"] + agent_notice.get_content()
    assert f"{runtime(app).settings.base_url}/agent/messages/{thread_id}" in agent_text
    assert SUBJECT not in agent_text and BODY not in agent_text


def test_an_agent_of_several_services_sees_each_ones_threads(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    family_client: FlaskClient,
    service: Service,
) -> None:
    other = make_service(db_session)
    write(family_client, service)
    write(family_client, other)
    agent = make_agent(db_session, clock, service)
    db_session.add(AgentService(account_id=agent.id, service_id=other.id))
    db_session.commit()
    client = app.test_client()
    assert sign_in_agent(client, agent).status_code == 302

    listing = page_text(client.get("/agent/messages"))
    assert service.name in listing and other.name in listing
    assert "2 non lus" in listing


def test_deleting_the_account_erases_the_familys_threads(
    family_client: FlaskClient, db_session: Session, service: Service
) -> None:
    _status, location = write(family_client, service)
    token = csrf_token(family_client, "/famille/compte/supprimer")
    done = family_client.post(
        "/famille/compte/supprimer", data={"csrf_token": token, "confirmation": "SUPPRIMER"}
    )
    assert done.status_code == 303
    db_session.expire_all()
    assert db_session.get(Thread, thread_of(location)) is None
