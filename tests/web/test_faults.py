"""Faults the portal survives: the object store or the database going away, and coming back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, make_url, select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Document
from demo.seed import demo_pdf
from tests.conftest import PostgresServer, require
from tests.factories import make_account, make_service, page_text
from tests.proxy import TcpProxy
from tests.stockage.conftest import ACCESS_KEY, SECRET_KEY, MotoServer
from tests.web.auth.test_login import csrf_token, log_in
from tests.web.famille.test_vault import upload
from tests.worker.test_crash import wait_until
from web import create_app
from web.runtime import db, runtime
from web.settings import load_settings
from worker.models import WorkerHeartbeat


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    """A moto S3 server of this test's own, so the test may stop and restart it."""
    server = MotoServer(tmp_path / "moto.log")
    if not server.start():
        require("moto's S3 server did not start")
    yield server
    server.stop()


@pytest.fixture
def s3_app(
    moto: MotoServer,
    tmp_path: Path,
    database_url: str,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> Iterator[Flask]:
    url = f"s3://{ACCESS_KEY}:{SECRET_KEY}@{moto.endpoint}/coffre?secure=false&region=us-east-1"
    settings = load_settings(
        {"ENV": "test", "VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": database_url}
        | {"STORAGE_URL": url}
    )
    app = create_app(settings, clock=clock)
    runtime(app).sessions = sessions
    yield app
    runtime(app).engine.dispose()


def documents_of(session: Session, account: Account) -> int:
    session.expire_all()
    return (
        session.scalar(select(func.count(Document.id)).where(Document.foyer_id == account.foyer_id))
        or 0
    )


@pytest.mark.s3
def test_upload_while_the_store_is_down_is_refused_cleanly_and_works_once_it_is_back(
    s3_app: Flask, moto: MotoServer, db_session: Session, clock: FrozenClock
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    client = s3_app.test_client()
    assert log_in(client, family.email).status_code == 302
    pdf = demo_pdf("avis.pdf")
    moto.stop()

    refused = upload(client, pdf)
    health = client.get("/healthz")

    assert refused.status_code == 503
    assert "votre document n'a pas été enregistré" in page_text(refused)
    assert "Traceback" not in page_text(refused) and SECRET_KEY not in page_text(refused)
    assert documents_of(db_session, family) == 0
    assert health.status_code == 503 and health.get_json()["checks"]["storage"] == "unavailable"

    assert moto.start()
    accepted = upload(client, pdf)

    assert accepted.status_code == 303
    assert documents_of(db_session, family) == 1
    assert client.get("/healthz").status_code == 200
    document_id = db_session.scalar(select(Document.id).where(Document.foyer_id == family.foyer_id))
    assert client.get(f"/famille/coffre/{document_id}/fichier").get_data() == pdf


@pytest.fixture
def postgres_server(postgres: PostgresServer | None) -> PostgresServer:
    if postgres is None:
        require("PostgreSQL is needed to cut the database away")
    assert postgres is not None
    return postgres


@pytest.mark.postgres
def test_database_cut_then_back_pages_answer_503_then_work_and_the_worker_resumes(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    direct = postgres_server.create_database()
    proxy = TcpProxy(("127.0.0.1", make_url(direct).port or 5432))
    proxy.start()
    through_proxy = make_url(direct).set(port=proxy.port).render_as_string(hide_password=False)
    env = dict(
        os.environ, ENV="test", VAR_DIR=str(tmp_path), FLASK_APP="web:create_app",
        DATABASE_URL=through_proxy,
    )  # fmt: skip
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    app = create_app(load_settings(env))
    client = app.test_client()
    engine = create_engine(direct)

    def last_beat() -> datetime | None:
        with engine.connect() as connection:
            return connection.scalar(select(func.max(WorkerHeartbeat.beat_at)))

    worker_log = tmp_path / "worker.log"
    log = worker_log.open("w")
    worker = subprocess.Popen(
        [*flask, "worker", "--tick", "0.2"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until(lambda: last_beat() is not None, 30, "the worker beats")
        assert client.get("/healthz").status_code == 200
        token = csrf_token(client)

        proxy.cut()
        health = client.get("/healthz")
        page = client.post(
            "/connexion",
            data={"email": "a@test.example", "password": "x" * 12, "csrf_token": token},
        )
        backed_off = "database unavailable"
        wait_until(lambda: backed_off in worker_log.read_text(), 30, "the worker backs off")
        beat_during_cut = last_beat()
        assert worker.poll() is None

        proxy.start()
        wait_until(lambda: (last_beat() or beat_during_cut) != beat_during_cut, 30, "it resumes")
        after = client.get("/healthz")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
        log.close()
        proxy.cut()
        runtime(app).engine.dispose()
        engine.dispose()

    assert health.status_code == 503 and health.get_json()["checks"]["database"] == "unavailable"
    assert page.status_code == 503
    assert "Le service est momentanément indisponible" in page_text(page)
    assert "Traceback" not in page_text(page)
    assert after.status_code == 200
    output = (tmp_path / "worker.log").read_text()
    assert "database unavailable" in output and "retry in" in output
    assert worker.returncode == 0


def test_two_writes_of_the_same_thing_at_once_answer_409_not_database_down(
    app: Flask, db_session: Session, ville: Service
) -> None:
    # A unique index refusing the second of two simultaneous writes is a conflict the user
    # can retry, not an outage: 409 with a French message, and the next request works.
    def write_twice() -> str:
        make_service(db(), code=ville.code)
        return "written"

    app.add_url_rule("/essai/conflit", view_func=write_twice)
    app.add_url_rule("/api/essai/conflit", endpoint="api_conflict", view_func=write_twice)
    client = app.test_client()

    page = client.get("/essai/conflit")
    assert page.status_code == 409
    assert "au même moment" in page_text(page)
    answer = client.get("/api/essai/conflit")
    assert answer.status_code == 409 and "au même moment" in answer.get_json()["detail"]
    assert answer.get_json()["title"] == "Conflict"
    assert client.get("/healthz").status_code == 200
    assert db_session.scalar(select(func.count(Service.id)).where(Service.code == ville.code)) == 1
