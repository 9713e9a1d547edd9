"""Streamed files hold no database transaction while they are sent (issue 16, point 3).

On SQLite a transaction is the database's write lock: an export left half-read, dropped, or
even read to its end kept one open, and every write of every other process failed with
"database is locked" until the web process was restarted. The portal is served for real on
loopback (SQLite file, file store) and the writer is another process whose busy timeout is
one second: it fails if the lock is not free within that second.
"""

from __future__ import annotations

import http.client
import io
import socket
import struct
import subprocess
import sys
import threading
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import InvalidRequestError
from werkzeug.serving import make_server

from accounts.models import Role
from coffre import consent
from coffre.clock import FrozenClock
from coffre.consent import DemandeRef
from coffre.models import Document, Foyer
from tests.factories import make_account, make_agent, make_service
from tests.web.agents import sign_in_agent
from tests.web.auth.test_login import log_in
from tests.web.conftest import deposit
from tests.web.famille.test_vault import make_demande
from tests.worker.test_crash import wait_until
from web import create_app, schema
from web.runtime import db, runtime
from web.settings import load_settings

MIB = 1024 * 1024
# Each document is larger than what the loopback socket buffers hold (the server's send
# buffer grows to 4 MiB; ours is kept small), so a client that stops reading after the
# first MiB leaves the server in the middle of sending it: `blobs_open` checks that it is.
DOCUMENT_BYTES = 8 * MIB
RECEIVE_BUFFER = 32 * 1024
WRITER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=1, isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("UPDATE foyers SET label = ? WHERE id = ?", (sys.argv[3], int(sys.argv[2])))
connection.execute("COMMIT")
"""


@dataclass(frozen=True)
class Portal:
    """The portal served on loopback, a family's big vault in it and the cookies to read it."""

    port: int
    app: Flask
    foyer_id: int
    documents: dict[int, bytes]  # id -> content; the first is granted to the agent
    demande_id: int
    family_cookie: str
    agent_cookie: str

    @property
    def database(self) -> Path:
        return runtime(self.app).settings.var_dir / "portail.db"

    @property
    def store(self) -> Path:
        return runtime(self.app).settings.var_dir / "objects"


def big_png(size: int, shade: int) -> bytes:
    """A valid PNG of about `size` bytes: one grey shade, stored without compression."""
    width = 1024
    row = b"\x00" + bytes([shade]) * (3 * width)
    height = size // len(row) + 1

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * height, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def session_cookie(client: FlaskClient) -> str:
    name = client.application.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    assert cookie is not None
    return f"{name}={cookie.value}"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """One served portal for the module: a family's two big documents, one granted to an agent."""
    clock = FrozenClock()
    var_dir = tmp_path_factory.mktemp("var")
    app = create_app(load_settings({"ENV": "test", "VAR_DIR": str(var_dir)}), clock=clock)
    rt = runtime(app)
    schema.upgrade(rt.engine)
    with rt.sessions() as session:
        family = make_account(session, clock, Role.FAMILLE)
        foyer_id = family.foyer_id or 0
        documents: dict[int, bytes] = {}
        for number, shade in enumerate((64, 192), start=1):
            content = big_png(DOCUMENT_BYTES, shade)
            name = f"scan-{number}.png"
            document = deposit(app, session, foyer_id, "rib", filename=name, content=content)
            documents[document.id] = content
        granted = session.get_one(Document, next(iter(documents)))
        service = make_service(session)
        agent = make_agent(session, clock, service)
        demande = make_demande(session, clock, foyer_id)
        consent.grant(session, clock, family.id, granted, DemandeRef(demande.id, foyer_id, True))
        consent.open_access(session, clock, demande.id, service.id)
        session.commit()
    family_client, agent_client = app.test_client(), app.test_client()
    assert log_in(family_client, family.email).status_code == 302
    assert sign_in_agent(agent_client, agent).status_code == 302
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Portal(
            port=server.server_port,
            app=app,
            foyer_id=foyer_id,
            documents=documents,
            demande_id=demande.id,
            family_cookie=session_cookie(family_client),
            agent_cookie=session_cookie(agent_client),
        )
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        rt.engine.dispose()


@contextmanager
def half_read(portal: Portal, path: str, cookie: str) -> Iterator[None]:
    """GET `path`, read its first MiB, then stop reading; leaving the block drops the client.

    Closing a socket with bytes still unread resets the connection: the server meets the
    reset on its next write, as it does when a browser's download is cancelled.
    """
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Set before connecting, so the window announced to the server stays small.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    try:
        client.connect(("127.0.0.1", portal.port))
        request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n"
        client.sendall(request.encode())
        received = bytearray()
        while len(received) < MIB:
            chunk = client.recv(64 * 1024)
            assert chunk, f"{path} ended after {len(received)} bytes"
            received += chunk
        assert received.split(b"\r\n", 1)[0].split()[1] == b"200"
        yield
    finally:
        client.close()


def read_whole(portal: Portal, path: str, cookie: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=60)
    try:
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def write_from_another_process(portal: Portal, label: str) -> None:
    """Rename the foyer from another process that waits at most one second for the lock."""
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(portal.database), str(portal.foyer_id), label],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
    with runtime(portal.app).sessions() as session:
        assert session.get_one(Foyer, portal.foyer_id).label == label


def blobs_open(portal: Portal) -> int:
    """How many files of the store are open in this process, which runs the server."""
    store = str(portal.store.resolve())
    count = 0
    for descriptor in Path("/proc/self/fd").iterdir():
        try:
            target = str(descriptor.readlink())
        except OSError:  # closed between the listing and the look
            continue
        count += target.startswith(store)
    return count


def healthz(portal: Portal) -> int:
    url = f"http://127.0.0.1:{portal.port}/healthz"
    with urllib.request.urlopen(url, timeout=60) as response:
        return int(response.status)


def test_an_export_dropped_half_way_leaves_the_database_free_for_other_processes(
    portal: Portal,
) -> None:
    with half_read(portal, "/famille/coffre/export", portal.family_cookie):
        assert blobs_open(portal) == 1  # the server is in the middle of the ZIP
        write_from_another_process(portal, "Famille en cours d'export")

    wait_until(lambda: blobs_open(portal) == 0, 30, "the server lets the dropped export go")
    write_from_another_process(portal, "Famille après l'export interrompu")
    assert healthz(portal) == 200


def test_an_export_read_to_its_end_leaves_no_transaction_open(portal: Portal) -> None:
    status, kind, data = read_whole(portal, "/famille/coffre/export", portal.family_cookie)

    write_from_another_process(portal, "Famille après l'export complet")
    assert (status, kind) == (200, "application/zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        stored = {
            int(name.split("/")[1].split("-")[0]): archive.read(name)
            for name in archive.namelist()
            if name.startswith("documents/")
        }
    assert stored == portal.documents


@pytest.mark.parametrize(
    ("reader", "path"),
    [
        ("family", "/famille/coffre/{document}/fichier"),
        ("family", "/famille/coffre/{document}/fichier?disposition=inline"),
        ("agent", "/agent/demandes/{demande}/documents/{document}/contenu"),
    ],
)
def test_a_document_download_or_preview_dropped_half_way_leaves_the_database_free(
    portal: Portal, reader: str, path: str
) -> None:
    document = next(iter(portal.documents))
    url = path.format(document=document, demande=portal.demande_id)
    cookie = portal.family_cookie if reader == "family" else portal.agent_cookie

    with half_read(portal, url, cookie):
        assert blobs_open(portal) == 1  # the server is in the middle of the file
        write_from_another_process(portal, f"Famille pendant {reader} {document}")

    wait_until(lambda: blobs_open(portal) == 0, 30, "the server lets the dropped download go")
    write_from_another_process(portal, f"Famille après {reader} {document}")


def test_a_session_kept_past_its_request_refuses_to_open_a_transaction(app: Flask) -> None:
    with app.test_request_context():
        kept = db()
        kept.execute(text("SELECT 1"))
    # Its request is over: a stream still holding it must fail, not lock the database.
    with pytest.raises(InvalidRequestError):
        kept.execute(text("SELECT 1"))
