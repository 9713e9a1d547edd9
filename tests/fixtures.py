"""Fixtures the domain packages' tests share (a plugin of tests/conftest.py): vault, SMTP..."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import FrozenClock
from coffre.db import make_engine
from coffre.models import Foyer
from coffre.vault import Vault
from notifications.outbox import MailSettings
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from tests.clamav import clamd, scanner
from tests.coffre.conftest import foyer, keyring, other_foyer, store, vault
from tests.conftest import PostgresServer, require
from tests.factories import make_service
from tests.procedures.flows import family_of
from tests.stockage.conftest import MotoServer, free_port
from web import schema

__all__ = [
    "clamd",
    "foyer",
    "keyring",
    "mail",
    "mailbox",
    "other_foyer",
    "scanner",
    "smtp_server",
    "store",
    "vault",
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def own_database(
    request: pytest.FixtureRequest, postgres: PostgresServer | None, tmp_path: Path
) -> Iterator[Engine]:
    """A database of the test's own, for real commits of overlapping transactions: a file
    SQLite database (several writers, as with gunicorn's workers), or PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'own.db'}"
    elif postgres is None:
        require("PostgreSQL is needed for overlapping transactions")
    else:
        url = postgres.create_database()
    engine = make_engine(url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_database(postgres: PostgresServer | None) -> Iterator[Engine]:
    """A PostgreSQL database of the test's own, for transactions that truly overlap (SQLite
    takes its write lock at BEGIN: there the second one waits for the first)."""
    if postgres is None:
        require("PostgreSQL is needed for overlapping transactions")
    engine = make_engine(postgres.create_database())
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the whole session; yields its host:port."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "server.log")
    try:
        if not server.start():
            require("moto's S3 server did not start")
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def ctx(clock: FrozenClock, vault: Vault) -> EngineContext:
    """What the demande services need: the test's clock, working calendar and vault."""
    return EngineContext(clock=clock, vault=vault)


@pytest.fixture
def family(db_session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    """A family account of the test's foyer."""
    return family_of(db_session, clock, foyer)


@pytest.fixture
def petite_enfance(db_session: Session) -> Service:
    """The service the crèche diagram's lanes are mapped to."""
    return make_service(db_session, code="petite-enfance")


SENDER = "Portail famille <ne-pas-repondre@mairie.example>"
# The server answers RCPT TO for this address with a permanent refusal.
REFUSED_RECIPIENT = "inconnu@refuse.example"


class Mailbox:
    """What the SMTP server accepted, parsed; it answers 550 to REFUSED_RECIPIENT."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address == REFUSED_RECIPIENT:
            return "550 5.1.1 Destinataire inconnu"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        # Stored before the 250 reply, so a message is here once smtplib returns: no waiting.
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Controller]:
    """aiosmtpd on a free loopback port, for the whole session."""
    controller = Controller(Mailbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: Controller) -> Mailbox:
    """The server's mailbox, emptied for this test."""
    box: Mailbox = smtp_server.handler
    box.messages.clear()
    return box


@pytest.fixture
def mail(smtp_server: Controller) -> MailSettings:
    """Settings that reach the test server."""
    return MailSettings(host="127.0.0.1", port=smtp_server.port, sender=SENDER)
