"""A large vault's export, prepared in the background (décret 2018-853): asked for from the
vault page, built and sealed by the worker, announced by e-mail, downloaded for 7 days."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.models import ExportState, JournalEntry, VaultExport
from coffre.portability.prepared import EXPORT_PREFIX
from demo.seed import demo_pdf
from notifications.models import OutboxMessage
from tests.factories import make_account, page_text
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.conftest import deposit
from web.runtime import runtime
from worker.jobs import register_standard_jobs
from worker.loop import Worker

PREPARING = "Votre export est en préparation : vous recevrez un courriel quand il sera prêt."


@pytest.fixture
def small_threshold(app: Flask) -> None:
    """Any vault with a document goes the background way."""
    rt = runtime(app)
    rt.settings = dataclasses.replace(rt.settings, export_background_mb=0)


def run_job(app: Flask, clock: FrozenClock, name: str) -> None:
    """Run one of the worker's jobs as `flask worker` registers it."""
    rt = runtime(app)
    worker = Worker(sessions=rt.sessions, clock=clock, name="test")
    register_standard_jobs(worker, rt.vault, None, rt.settings.base_url)
    [job] = [job for job in worker.jobs if job.name == name]
    with rt.sessions() as session:
        job.run(session, clock)


def ask(client: FlaskClient) -> int:
    token = csrf_token(client, "/famille/")
    response = client.post("/famille/coffre/export/preparer", data={"csrf_token": token})
    assert response.status_code == 303
    return response.status_code


def exports_of(session: Session, foyer_id: int) -> list[VaultExport]:
    session.expire_all()
    query = select(VaultExport).where(VaultExport.foyer_id == foyer_id).order_by(VaultExport.id)
    return list(session.scalars(query))


def events(session: Session, foyer_id: int) -> list[JournalEntry]:
    query = select(JournalEntry).where(JournalEntry.foyer_id == foyer_id)
    return list(session.scalars(query.order_by(JournalEntry.id)))


def test_a_large_vault_is_prepared_in_the_background_then_downloaded_for_7_days(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
    small_threshold: None,
) -> None:
    foyer_id = family.foyer_id or 0
    contents = [demo_pdf("Carnet"), demo_pdf("Avis")]
    documents = [deposit(app, db_session, foyer_id, content=pdf) for pdf in contents]

    page = page_text(family_client.get("/famille/coffre"))
    assert "Préparer le téléchargement de tout mon coffre-fort (ZIP)" in page
    assert 'href="/famille/coffre/export"' not in page
    assert family_client.get("/famille/coffre/export").status_code == 303  # never inline

    ask(family_client)
    ask(family_client)  # a second request while one is pending adds nothing
    [export] = exports_of(db_session, foyer_id)
    assert export.state is ExportState.PENDING
    page = page_text(family_client.get("/famille/coffre"))
    assert PREPARING in page and "Préparer le téléchargement" not in page

    run_job(app, clock, "exports")

    [export] = exports_of(db_session, foyer_id)
    assert export.state is ExportState.READY and export.blob_key
    assert export.expires_at == clock.now() + timedelta(days=7)
    store = runtime(app).store
    assert list(store.keys(EXPORT_PREFIX)) == [export.blob_key]
    with store.open(export.blob_key) as blob:
        sealed = blob.read()
    assert not sealed.startswith(b"PK") and b"%PDF" not in sealed  # never a ZIP in clear
    [notice] = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "export_pret")
    ).all()
    context = json.loads(notice.context)
    assert notice.recipient == family.email
    assert context["lien"] == runtime(app).settings.base_url + "/famille/coffre"
    assert set(context) == {"lien", "date_limite"}  # nothing of the vault's content
    prepared = [e for e in events(db_session, foyer_id) if e.event == "foyer.export_prepared"]
    assert [json.loads(e.details) for e in prepared] == [{"export": export.id, "size": export.size}]

    page = page_text(family_client.get("/famille/coffre"))
    assert "Votre export est prêt : vous pouvez le télécharger jusqu'au 8 septembre 2026." in page
    response = family_client.get(f"/famille/coffre/export/{export.id}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert len(response.data) == export.size
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = {name: archive.read(name) for name in archive.namelist()}
    for entry in manifest:  # every file, documents and data, matches its digest
        assert hashlib.sha256(files[entry["fichier"]]).hexdigest() == entry["sha256"]
    assert sorted(files[f"documents/{d.id}-facture.pdf"] for d in documents) == sorted(contents)
    assert "donnees/donnees.json" in files
    assert events(db_session, foyer_id)[-1].event == "foyer.exported"

    clock.advance(timedelta(days=7))
    run_job(app, clock, "exports-expiry")

    [export] = exports_of(db_session, foyer_id)
    assert export.state is ExportState.EXPIRED
    assert list(store.keys(EXPORT_PREFIX)) == []
    gone = family_client.get(f"/famille/coffre/export/{export.id}")
    assert gone.status_code == 410
    assert "Cet export de votre coffre-fort n'est plus disponible" in page_text(gone)
    assert "Préparer le téléchargement" in page_text(family_client.get("/famille/coffre"))


def test_an_ordinary_vault_is_still_streamed_inline(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    deposit(app, db_session, family.foyer_id or 0)

    page = page_text(family_client.get("/famille/coffre"))
    response = family_client.get("/famille/coffre/export")

    assert 'href="/famille/coffre/export"' in page and "Préparer le téléchargement" not in page
    assert response.status_code == 200 and response.data.startswith(b"PK")
    assert exports_of(db_session, family.foyer_id or 0) == []


def test_only_the_foyers_adults_ask_for_and_download_its_export(
    app: Flask,
    client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
    small_threshold: None,
) -> None:
    deposit(app, db_session, family.foyer_id or 0)
    assert log_in(client, family.email).status_code == 302
    ask(client)
    run_job(app, clock, "exports")
    [export] = exports_of(db_session, family.foyer_id or 0)
    client.post("/deconnexion", data={"csrf_token": csrf_token(client, "/famille/")})
    client.delete_cookie("session")

    other = make_account(db_session, clock, Role.FAMILLE)
    assert log_in(client, other.email).status_code == 302
    assert client.get(f"/famille/coffre/export/{export.id}").status_code == 404
    client.delete_cookie("session")

    agent = make_account(db_session, clock, Role.AGENT)
    assert sign_in_agent(client, agent).status_code == 302
    assert client.get(f"/famille/coffre/export/{export.id}").status_code == 403
    token = csrf_token(client, "/agent/guichet")
    response = client.post("/famille/coffre/export/preparer", data={"csrf_token": token})
    assert response.status_code == 403
    count = select(func.count()).select_from(VaultExport)
    assert db_session.scalar(count) == 1


def test_an_export_that_cannot_be_built_is_failed_and_may_be_asked_again(
    app: Flask,
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    clock: FrozenClock,
    small_threshold: None,
) -> None:
    foyer_id = family.foyer_id or 0
    document = deposit(app, db_session, foyer_id)
    runtime(app).store.delete(document.blob_key)  # a damaged vault
    ask(family_client)

    run_job(app, clock, "exports")

    [export] = exports_of(db_session, foyer_id)
    assert export.state is ExportState.FAILED
    assert list(runtime(app).store.keys(EXPORT_PREFIX)) == []  # nothing half-written kept
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    page = page_text(family_client.get("/famille/coffre"))
    assert "Votre export n'a pas pu être préparé." in page
    assert family_client.get(f"/famille/coffre/export/{export.id}").status_code == 404
    ask(family_client)
    assert [e.state for e in exports_of(db_session, foyer_id)] == [
        ExportState.FAILED,
        ExportState.PENDING,
    ]
