from __future__ import annotations

import socket
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import page_text
from tests.web.auth.test_login import csrf_token
from web import create_app
from web.runtime import runtime
from web.settings import load_settings


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_health_is_ok_when_database_and_storage_answer(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "storage": "ok"},
        "antivirus": "not_configured",  # the suite's portal has no CLAMD_SOCKET
    }


def test_health_reports_storage_down(
    tmp_path: Path, database_url: str, sessions: sessionmaker[Session]
) -> None:
    settings = load_settings(
        {
            "ENV": "test",
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": database_url,
            "STORAGE_URL": f"s3://key:secret@127.0.0.1:{_closed_port()}/docs?secure=false",
        }
    )
    app = create_app(settings)
    runtime(app).sessions = sessions

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "storage": "unavailable"}
    assert "secret" not in page_text(response)
    runtime(app).engine.dispose()


def test_health_reports_database_down_and_pages_answer_503_in_french(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ENV": "test",
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/none",
        }
    )
    client = create_app(settings).test_client()

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"] == {"database": "unavailable", "storage": "ok"}

    token = csrf_token(client)
    page = client.post(
        "/connexion", data={"email": "a@test.example", "password": "x" * 12, "csrf_token": token}
    )
    assert page.status_code == 503
    assert "Le service est momentanément indisponible" in page_text(page)
    assert "Traceback" not in page_text(page)
