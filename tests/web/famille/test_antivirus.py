"""The antivirus on the portal: /healthz's line, the start-up warning, a family's deposit
waiting for its scan ("analyse en cours") then quarantined with its reason, and an agent
kept from a granted document until it is found clean."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account
from coffre import consent
from coffre.clock import FrozenClock
from coffre.consent import DemandeRef
from coffre.models import ScanState
from notifications.models import OutboxMessage
from notifications.templates import render
from tests.clamav import INFECTED_PDF, ClamdServer
from tests.factories import make_agent, make_service, page_text
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import log_in
from tests.web.conftest import deposit
from tests.web.famille.test_vault import documents_of, make_demande, upload
from web import create_app
from web.antivirus import warn_if_unscanned
from web.runtime import runtime
from web.settings import Settings
from worker.jobs import register_antivirus
from worker.loop import Worker

QUARANTINE = "L'antivirus a détecté un logiciel malveillant dans ce fichier"


def portal(settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock) -> Flask:
    app = create_app(settings, clock=clock)
    runtime(app).sessions = sessions
    return app


@pytest.fixture
def scanning_app(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock, clamd: ClamdServer
) -> Iterator[Flask]:
    """The portal with CLAMD_SOCKET naming the test's clamd."""
    app = portal(dataclasses.replace(settings, clamd_socket=clamd.socket_path), sessions, clock)
    yield app
    runtime(app).engine.dispose()


def run_antivirus_job(app: Flask, session: Session, clock: FrozenClock) -> None:
    """One turn of the worker's antivirus job, as `flask worker` registers it."""
    rt = runtime(app)
    worker = Worker(sessions=rt.sessions, clock=clock)
    assert rt.scanner is not None
    register_antivirus(worker, rt.vault, rt.scanner, rt.settings.base_url)
    [job] = worker.jobs
    job.run(session, clock)


def test_healthz_says_whether_the_antivirus_answers_without_failing_the_portal(
    scanning_app: Flask, clamd: ClamdServer
) -> None:
    assert scanning_app.test_client().get("/healthz").get_json()["antivirus"] == "ok"

    settings = runtime(scanning_app).settings
    away = dataclasses.replace(settings, clamd_socket=clamd.directory / "absent.sock")
    runtime(scanning_app).settings = away
    health = scanning_app.test_client().get("/healthz")

    assert (health.status_code, health.get_json()["antivirus"]) == (200, "unavailable")


def test_without_a_scanner_the_portal_warns_and_deposits_open_at_once(
    settings: Settings,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="web.antivirus"):
        warn_if_unscanned(settings)
    assert "CLAMD_SOCKET is not set: deposits are not scanned" in caplog.text

    assert upload(family_client, INFECTED_PDF).status_code == 303

    [stored] = documents_of(db_session, family.foyer_id or 0)
    assert stored.scan_state is ScanState.NOT_SCANNED
    assert "analyse en cours" not in page_text(family_client.get("/famille/coffre"))


def test_an_infected_deposit_is_marked_pending_then_quarantined_and_the_family_told(
    scanning_app: Flask, family: Account, db_session: Session, clock: FrozenClock
) -> None:
    client = scanning_app.test_client()
    assert log_in(client, family.email).status_code == 302
    assert upload(client, INFECTED_PDF, "avis.pdf").status_code == 303
    [stored] = documents_of(db_session, family.foyer_id or 0)
    assert stored.scan_state is ScanState.PENDING
    assert "analyse en cours" in page_text(client.get("/famille/coffre"))

    clock.advance(timedelta(seconds=5))
    run_antivirus_job(scanning_app, db_session, clock)

    db_session.refresh(stored)
    assert stored.scan_state is ScanState.INFECTED
    page = page_text(client.get("/famille/coffre"))
    assert "en quarantaine" in page and QUARANTINE in page
    assert "analyse en cours" not in page
    refused = client.get(f"/famille/coffre/{stored.id}/fichier")
    assert refused.status_code == 410 and QUARANTINE in page_text(refused)
    assert QUARANTINE in page_text(client.get(f"/famille/coffre/{stored.id}/voir"))
    [message] = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "document_quarantaine")
    )
    subject, body = render(message.template, json.loads(message.context))
    assert message.recipient == family.email
    assert "quarantaine" in subject and "Avis d'imposition" in body


def test_an_agent_opens_a_granted_deposit_only_once_the_antivirus_found_it_clean(
    scanning_app: Flask, family: Account, db_session: Session, clock: FrozenClock
) -> None:
    foyer_id = family.foyer_id or 0
    document = deposit(scanning_app, db_session, foyer_id)
    service = make_service(db_session)
    demande = make_demande(db_session, clock, foyer_id)
    consent.grant(db_session, clock, family.id, document, DemandeRef(demande.id, foyer_id, True))
    consent.open_access(db_session, clock, demande.id, service.id)
    db_session.commit()
    client = scanning_app.test_client()
    assert sign_in_agent(client, make_agent(db_session, clock, service)).status_code == 302
    page = f"/agent/demandes/{demande.id}/documents/{document.id}"

    waiting = client.get(page + "/contenu")
    assert waiting.status_code == 409
    assert "en cours d'analyse par l'antivirus" in page_text(waiting)
    assert "en cours d'analyse par l'antivirus" in page_text(client.get(page))

    run_antivirus_job(scanning_app, db_session, clock)

    opened = client.get(page + "/contenu")
    assert opened.status_code == 200 and opened.data.startswith(b"%PDF")


NOT_SCANNED = "déposé alors qu'aucun antivirus n'était en service"


def test_a_document_deposited_without_a_scanner_stays_open_then_the_worker_scans_it(
    app: Flask,
    scanning_app: Flask,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
) -> None:
    foyer_id = family.foyer_id or 0
    document = deposit(app, db_session, foyer_id, content=INFECTED_PDF)  # no CLAMD_SOCKET
    service = make_service(db_session)
    demande = make_demande(db_session, clock, foyer_id)
    consent.grant(db_session, clock, family.id, document, DemandeRef(demande.id, foyer_id, True))
    consent.open_access(db_session, clock, demande.id, service.id)
    db_session.commit()
    client = scanning_app.test_client()
    assert sign_in_agent(client, make_agent(db_session, clock, service)).status_code == 302
    page = f"/agent/demandes/{demande.id}/documents/{document.id}"
    assert NOT_SCANNED in page_text(client.get(page))
    assert client.get(page + "/contenu").status_code == 200

    run_antivirus_job(scanning_app, db_session, clock)  # CLAMD_SOCKET set: it takes the backlog

    db_session.refresh(document)
    assert document.scan_state is ScanState.INFECTED
    assert client.get(page + "/contenu").status_code == 410
    shown = page_text(client.get(page))
    assert NOT_SCANNED not in shown and "mis en quarantaine" in shown
    [message] = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "document_quarantaine")
    )
    assert message.recipient == family.email
