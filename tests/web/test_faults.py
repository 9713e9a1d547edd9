"""Faults the portal survives: the object store going away during an upload, and coming back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import FrozenClock
from coffre.models import Document
from procedures.demo import demo_pdf
from procedures.models import Account, Role
from tests.conftest import require
from tests.factories import make_account, page_text
from tests.stockage.conftest import ACCESS_KEY, SECRET_KEY, MotoServer
from tests.web.test_auth import log_in
from tests.web.test_famille_coffre import upload
from web import create_app
from web.runtime import runtime
from web.settings import load_settings


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
