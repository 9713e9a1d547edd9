"""Delivery as production sends it: STARTTLS to a server with a certificate, then a login."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from notifications.models import OutboxMessage
from notifications.outbox import MailSettings, enqueue, send_due
from tests.fixtures import Mailbox
from tests.stockage.conftest import free_port

USER, PASSWORD = "portail", "mot-de-passe-smtp"
RECEIVED = {
    "reference": "2026-000042",
    "demarche": "Pré-inscription en crèche",
    "lien": "https://mairie.example/famille/demandes/42",
}


@dataclass
class Authenticator:
    """Accepts one login, and remembers what each attempt said and whether TLS was on."""

    attempts: list[tuple[str, bool]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user = data.login.decode()
        self.attempts.append((user, session.ssl is not None))
        accepted = (user, data.password.decode()) == (USER, PASSWORD)
        return AuthResult(success=accepted, handled=False)  # aiosmtpd answers 235 or 535


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TlsServer:
    port: int
    mailbox: Mailbox
    authenticator: Authenticator
    certificate: Path


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[TlsServer]:
    cert_path, key_path = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    mailbox, authenticator, port = Mailbox(), Authenticator(), free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    yield TlsServer(port, mailbox, authenticator, cert_path)
    controller.stop()


def _queue(session: Session, clock: FrozenClock) -> None:
    enqueue(
        session,
        clock,
        key="demande-recue:tls",
        recipient="famille@test.example",
        template="demande_recue",
        context=RECEIVED,
    )
    session.commit()


def _settings(server: TlsServer, password: str = PASSWORD) -> MailSettings:
    return MailSettings(
        host="127.0.0.1",
        port=server.port,
        username=USER,
        password=password,
        starttls=True,
        sender="portail@mairie.example",
    )


def test_a_message_goes_out_over_starttls_after_logging_in(
    db_session: Session, clock: FrozenClock, tls_smtp: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's certificate is trusted as a town's would be: through the system's CA file.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_smtp.certificate))
    _queue(db_session, clock)

    assert send_due(db_session, clock, _settings(tls_smtp)) == 1

    assert tls_smtp.authenticator.attempts == [(USER, True)]  # the login went over TLS
    [received] = tls_smtp.mailbox.messages
    assert received["To"] == "famille@test.example"


def test_a_refused_login_keeps_the_message_queued_and_says_why(
    db_session: Session, clock: FrozenClock, tls_smtp: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_smtp.certificate))
    _queue(db_session, clock)

    assert send_due(db_session, clock, _settings(tls_smtp, password="wrong-password")) == 0

    assert tls_smtp.mailbox.messages == []
    message = db_session.scalars(select(OutboxMessage)).one()
    assert (message.attempts, message.sent_at) == (1, None)
    assert message.last_error == "SMTPAuthenticationError 535"


def test_a_server_whose_certificate_is_not_trusted_gets_nothing(
    db_session: Session, clock: FrozenClock, tls_smtp: TlsServer
) -> None:
    _queue(db_session, clock)

    assert send_due(db_session, clock, _settings(tls_smtp)) == 0

    assert tls_smtp.authenticator.attempts == []  # no password was sent to it
    assert tls_smtp.mailbox.messages == []
