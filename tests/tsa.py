"""A real RFC 3161 timestamping authority on loopback, for the journal's checkpoints.

OpenSSL's own TSA (`openssl ts -reply`) answers each request, behind a small HTTP server, with
a throwaway root and a TSA certificate (critical extended key usage timeStamping) made here.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import require

MAX_QUERY_BYTES = 16 * 1024


@dataclass(frozen=True)
class LoopbackTsa:
    url: str
    ca_file: Path  # the root that signed the TSA's certificate (PEM), for TSA_CA_FILE
    requests: list[bytes]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
    )


def write_authority(directory: Path) -> Path:
    """A root, the TSA's key and certificate, and OpenSSL's TSA configuration; the root's path."""
    root_key, tsa_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root = (
        _certificate("Test TSA root", root_key, _name("Test TSA root"))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    tsa = (
        _certificate("Test TSA", tsa_key, root.subject)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "root.pem").write_bytes(root.public_bytes(pem))
    (directory / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (directory / "tsa.key").write_bytes(
        tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "serial").write_text("01\n")
    (directory / "ts.cnf").write_text(
        "[tsa]\ndefault_tsa = test_tsa\n[test_tsa]\n"
        f"serial = {directory / 'serial'}\nsigner_cert = {directory / 'tsa.pem'}\n"
        f"signer_key = {directory / 'tsa.key'}\nsigner_digest = sha256\n"
        "default_policy = 1.3.6.1.4.1.99999.1\ndigests = sha256, sha384, sha512\n"
        "accuracy = secs:1\ness_cert_id_alg = sha256\n"
    )
    return directory / "root.pem"


def _handler(directory: Path, requests: list[bytes]) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()  # OpenSSL's TSA bumps one serial file per answer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if self.headers.get("Content-Type") != "application/timestamp-query" or not (
                0 < length <= MAX_QUERY_BYTES
            ):
                self.send_error(400)
                return
            query = self.rfile.read(length)
            requests.append(query)
            with lock:
                (directory / "query.tsq").write_bytes(query)
                subprocess.run(
                    [
                        *("openssl", "ts", "-reply", "-config", str(directory / "ts.cnf")),
                        *("-queryfile", str(directory / "query.tsq")),
                        *("-out", str(directory / "reply.tsr")),
                    ],
                    check=True,
                    capture_output=True,
                )
                reply = (directory / "reply.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output quiet

    return Handler


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LoopbackTsa]:
    """A timestamping authority on a free loopback port, for one test."""
    if shutil.which("openssl") is None:
        require("the openssl command is needed for the test timestamping authority")
    directory = tmp_path / "tsa"
    directory.mkdir()
    root = write_authority(directory)
    requests: list[bytes] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(directory, requests))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LoopbackTsa(f"http://127.0.0.1:{server.server_address[1]}/tsa", root, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
