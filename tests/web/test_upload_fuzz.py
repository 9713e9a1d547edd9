"""Hostile uploads through the real deposit route: each refused with its message, none stored.

Polyglots, archive and image bombs, lying names and declared types, empty and oversized
files; then random bytes, which must never make the route fail. Names are not refused but
cleaned: the document is stored under a harmless name.
"""

from __future__ import annotations

import io
import zipfile

import pikepdf
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from accounts.models import Account
from coffre.catalogue import DEFAULT_FORMATS
from tests.coffre.inspection.test_uploads import FRENCH, MINIMAL_PDF, a_zip, jpeg, png
from tests.coffre.pdfs import built_pdf, javascript, open_action
from tests.web.auth.test_login import csrf_token
from tests.web.famille.test_vault import documents_of

MIB = 1024 * 1024


def zip_bomb() -> bytes:
    """100 MB of zeros in a 100 KB archive (never opened by the vault: it is refused first)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("avis.pdf", "w") as entry,
    ):
        for _ in range(100):
            entry.write(bytes(MIB))
    return buffer.getvalue()


def post(
    client: FlaskClient, content: bytes, filename: str, declared: str = "application/pdf"
) -> tuple[int, dict[str, list[str]]]:
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(
        {
            "csrf_token": csrf_token(client, "/famille/"),
            "type_code": "avis_imposition",
            "member_id": "",
            "issued_on": "2026-04-15",
            "fichier": FileStorage(io.BytesIO(content), filename, content_type=declared),
        }
    )
    response = client.post(
        "/famille/coffre/ajouter",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Accept": "application/json"},
    )
    reply = response.get_json(silent=True) or {}
    return response.status_code, reply.get("errors", {})


HOSTILE = {
    "pdf+zip polyglot": (MINIMAL_PDF + a_zip(), "avis.pdf", "application/pdf", "dangerous_content"),
    "jpeg+html polyglot": (
        jpeg() + b"<html><script>alert(1)</script></html>",
        "photo.jpg",
        "image/jpeg",
        "dangerous_content",
    ),
    "html declared as pdf": (
        b"<!doctype html><html><script>alert(1)</script></html>",
        "avis.pdf",
        "application/pdf",
        "dangerous_content",
    ),
    "elf executable named pdf": (
        b"\x7fELF\x02\x01\x01" + bytes(200),
        "avis.pdf",
        "application/pdf",
        "dangerous_content",
    ),
    "zip bomb named pdf": (zip_bomb(), "avis.pdf", "application/pdf", "type_not_allowed"),
    "png decompression bomb": (png(60_000, 60_000), "scan.png", "image/png", "image_bomb"),
    "jpeg decompression bomb": (jpeg(40_000, 40_000), "photo.jpg", "image/jpeg", "image_bomb"),
    "pdf named jpg": (MINIMAL_PDF, "photo.jpg", "image/jpeg", "extension_mismatch"),
    "javascript pdf, its objects in a compressed stream": (
        built_pdf(open_action(javascript())),
        "avis.pdf",
        "application/pdf",
        "pdf_javascript",
    ),
    "password-protected pdf": (
        built_pdf(encryption=pikepdf.Encryption(owner="proprietaire", user="motdepasse")),
        "avis.pdf",
        "application/pdf",
        "pdf_encrypted",
    ),
    "only the header of a pdf": (
        b"%PDF-1.7 garbage",
        "avis.pdf",
        "application/pdf",
        "pdf_unreadable",
    ),
    "empty file": (b"", "avis.pdf", "application/pdf", "empty"),
    "just over the size limit": (
        MINIMAL_PDF + b"%" * (20 * MIB + 1 - len(MINIMAL_PDF)),
        "avis.pdf",
        "application/pdf",
        "too_large",
    ),
}


@pytest.mark.parametrize(
    ("content", "filename", "declared", "code"), list(HOSTILE.values()), ids=list(HOSTILE)
)
def test_hostile_upload_is_refused_with_its_message_and_not_stored(
    family_client: FlaskClient,
    family: Account,
    db_session: Session,
    content: bytes,
    filename: str,
    declared: str,
    code: str,
) -> None:
    status, errors = post(family_client, content, filename, declared)

    assert status == 422
    assert any(FRENCH[code] in message for message in errors["fichier"])
    assert documents_of(db_session, family.foyer_id or 0) == []


@pytest.mark.parametrize(
    ("filename", "stored"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\avis.pdf", "avis.pdf"),
        ("avis\x00.exe.pdf", "avis.exe.pdf"),
        ("facture\u202efdp.exe.pdf", "facturefdp.exe.pdf"),
        ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
    ],
    ids=["dot-dot-slash", "backslashes", "nul", "right-to-left-override", "300-characters"],
)
def test_hostile_names_are_stored_cleaned(
    family_client: FlaskClient, family: Account, db_session: Session, filename: str, stored: str
) -> None:
    status, _ = post(family_client, MINIMAL_PDF, filename)

    assert status == 201
    [document] = documents_of(db_session, family.foyer_id or 0)
    assert document.original_name == stored


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.one_of(
        st.binary(max_size=4096),
        st.binary(max_size=512).map(lambda tail: MINIMAL_PDF + tail),
        st.binary(max_size=512).map(lambda tail: png() + tail),
        st.binary(max_size=512).map(lambda tail: b"%PDF-1." + tail),
    ),
    filename=st.sampled_from(["avis.pdf", "scan.png", "photo.jpg", "document"]),
)
def test_random_bytes_never_break_the_deposit(
    family_client: FlaskClient, family: Account, db_session: Session, content: bytes, filename: str
) -> None:
    before = len(documents_of(db_session, family.foyer_id or 0))

    status, errors = post(family_client, content, filename)

    after = documents_of(db_session, family.foyer_id or 0)
    assert status in (201, 422)
    if status == 422:
        assert errors["fichier"] and len(after) == before
    else:
        assert len(after) == before + 1 and after[-1].mime_type in DEFAULT_FORMATS
