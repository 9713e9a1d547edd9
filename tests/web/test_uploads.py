"""Request bodies: refused from their size before they are read, never spooled to disk."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from accounts.models import Account
from coffre.vault import MIB
from tests.coffre.conftest import pdf_of
from tests.factories import page_text
from tests.web.auth.test_login import csrf_token
from tests.web.famille.test_vault import documents_of
from web.uploads import FORM_ROOM_BYTES


def test_a_body_larger_than_a_document_is_refused_with_413_naming_the_limit(
    app: Flask, family_client: FlaskClient, family: Account, db_session: Session
) -> None:
    too_large = b"%" * (20 * MIB + FORM_ROOM_BYTES)

    response = _post_in_memory(family_client, too_large)

    assert response.status_code == 413
    assert "Le fichier dépasse la taille maximale autorisée de 20 Mo." in page_text(response)
    assert documents_of(db_session, family.foyer_id or 0) == []
    assert app.config["MAX_CONTENT_LENGTH"] == 20 * MIB + FORM_ROOM_BYTES


def test_an_announced_body_too_large_is_refused_before_any_of_it_is_read(
    family_client: FlaskClient,
) -> None:
    sent = _CountingBody(b"x" * 4096)

    response = family_client.post(
        "/famille/coffre/ajouter",
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"wsgi.input": sent, "CONTENT_LENGTH": str(30 * MIB)},
    )

    assert response.status_code == 413
    assert sent.read_bytes == 0


def test_an_upload_is_kept_in_memory_never_in_a_temporary_file(
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Werkzeug spools a file part over 500 KB to a temporary file: with no usable temporary
    # directory, such an upload fails unless the portal keeps it in memory.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-directory"))
    pdf = pdf_of(2 * MIB)
    response = _post_in_memory(family_client, pdf)

    assert response.status_code == 303
    [stored] = documents_of(db_session, family.foyer_id or 0)
    assert stored.size == len(pdf)


class _CountingBody:
    """A request body that counts what the server read of it."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = (
            self.content[self.read_bytes :]
            if size < 0
            else self.content[self.read_bytes : self.read_bytes + size]
        )
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _post_in_memory(client: FlaskClient, content: bytes) -> TestResponse:
    """The deposit form, encoded in memory (the test client's own encoder would spool it)."""
    boundary, body = encode_multipart(
        {
            "csrf_token": csrf_token(client, "/famille/"),
            "type_code": "avis_imposition",
            "member_id": "",
            "issued_on": "2026-04-15",
            "fichier": FileStorage(io.BytesIO(content), "avis-2025.pdf"),
        }
    )
    return client.post(
        "/famille/coffre/ajouter",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
