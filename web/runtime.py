"""What the app holds for its requests and commands: settings, database, store, keyring, clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coffre.antivirus import ClamdScanner, Scanner
from coffre.clock import Clock, SystemClock
from coffre.db import make_engine, make_session_factory
from coffre.keyring import Keyring, load_keyring_file, parse_keyring
from coffre.vault import MIB, Limits, Vault
from procedures.history import EngineContext
from stockage import ObjectStore, open_store
from web.settings import Settings

EXTENSION_KEY = "portail"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    keyring: Keyring = field(repr=False)
    clock: Clock

    @property
    def vault(self) -> Vault:
        """The vault service on this runtime's store, keyring and clock."""
        limits = Limits(
            document_bytes=self.settings.max_document_mb * MIB,
            foyer_bytes=self.settings.foyer_quota_mb * MIB,
        )
        return Vault(
            store=self.store,
            keyring=self.keyring,
            clock=self.clock,
            limits=limits,
            scanner=self.scanner,
        )

    @property
    def scanner(self) -> Scanner | None:
        """ClamAV's daemon when CLAMD_SOCKET names it; None: deposits are not scanned."""
        socket = self.settings.clamd_socket
        return ClamdScanner(socket) if socket else None

    @property
    def engine_context(self) -> EngineContext:
        """What the procedures' services need: the clock, the links' base and the vault."""
        return EngineContext(clock=self.clock, base_url=self.settings.base_url, vault=self.vault)


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    """Open the database engine, the object store and the keyring named by the settings."""
    engine = make_engine(settings.database_url, pool_pre_ping=True)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        store=open_store(settings.storage_url),
        keyring=load_keyring(settings),
        clock=clock or SystemClock(),
    )


def load_keyring(settings: Settings) -> Keyring:
    """The master keyring from MASTER_KEYS or the key file."""
    if settings.master_keys:
        return parse_keyring(settings.master_keys, "MASTER_KEYS")
    assert settings.master_key_file is not None  # load_settings guarantees one source
    return load_keyring_file(settings.master_key_file)


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of the given or current app."""
    target = app or current_app
    value: Runtime = target.extensions[EXTENSION_KEY]
    return value


def db() -> Session:
    """The session of the current request or command, opened on first use.

    Once `close_db` has closed it, it refuses any further use: a streamed response that kept
    it would otherwise open a transaction nobody closes (on SQLite, the write lock).
    """
    if "db_session" not in g:
        g.db_session = runtime().sessions(close_resets_only=False)
    session: Session = g.db_session
    return session


def close_db(_exc: BaseException | None = None) -> None:
    """Close the request's session; an uncommitted transaction is rolled back.

    Flask calls it when the view has returned, before a streamed body is sent: what a
    stream sends must have been read and committed by then.
    """
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
