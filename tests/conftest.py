"""Fixtures shared by the whole suite: a real database per deployment, an app per test.

Every test that uses the suite's database or the vault's store runs once per deployment a
town can have: the embedded one `make run` ships (SQLite and files on disk) and production's
(PostgreSQL and an S3 server). The second is left out only outside CI when no PostgreSQL
server listens; under CI=true it is required. Tests are isolated by an outer transaction
rolled back after each one, never by rebuilding the schema.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from argon2 import PasswordHasher, profiles
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from accounts import activation, credentials
from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.db import make_engine
from tests.factories import make_account, make_service
from web import create_app, schema
from web.runtime import runtime
from web.settings import Settings, load_settings

# Passwords and one-time codes are hashed with argon2id as in production, with the library's
# cheapest parameters (argon2.profiles.CHEAPEST, made for tests): production's profile takes a
# quarter of a second a hash, and the suite makes thousands (tests/accounts/test_credentials.py
# checks production's). Servers the tests start in a process of their own keep production's.
for _module in (credentials, activation):
    _module._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    _module._DUMMY_HASH = _module._hasher.hash("not-a-real-secret")

# The vault's fixtures, a real SMTP server, a family and a service, for every package's tests;
# pytester runs the suite's own hooks on made-up tests (tests/test_suite_setup.py).
pytest_plugins = ["tests.fixtures", "pytester"]

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_SERVER_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def require(reason: str) -> NoReturn:
    """Fail under CI, skip elsewhere: CI must never silently lose a part of the suite."""
    if IN_CI:
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


class PostgresServer:
    """Creates throw-away databases on the local PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"portail_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.server_url.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    """The local PostgreSQL server, or None to run on SQLite.

    None only when no server listens (or TEST_POSTGRES_URL is set empty), and never under
    CI. A server that answers but refuses (no such role or database, a wrong password) fails
    the suite with its own words: a setting to fix, not a reason to fall back to SQLite.
    """
    if not POSTGRES_SERVER_URL:
        if IN_CI:
            pytest.fail("TEST_POSTGRES_URL is empty (a PostgreSQL server is required when CI=true)")
        yield None
        return
    server = PostgresServer(POSTGRES_SERVER_URL)
    try:
        with server.admin.connect():
            pass
    except OperationalError as exc:
        server.admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0]
        shown = make_url(POSTGRES_SERVER_URL).render_as_string(hide_password=True)
        if IN_CI or "FATAL" in reason:
            pytest.fail(
                f"PostgreSQL at {shown}: {reason}. Set TEST_POSTGRES_URL to a role and a "
                "database that exist (or set it empty to run on SQLite outside CI)."
            )
        yield None
        return
    yield server
    server.drop_all()


@dataclass(frozen=True)
class Deployment:
    """Where a town keeps its data: a database and an object store."""

    name: str
    database: str  # "sqlite" or "postgresql"
    store: str  # "files" or "s3"


EMBEDDED = Deployment("sqlite-files", "sqlite", "files")
PRODUCTION = Deployment("postgresql-s3", "postgresql", "s3")


def _postgres_listens() -> bool:
    """Whether something listens where TEST_POSTGRES_URL points (what it answers comes later)."""
    url = make_url(POSTGRES_SERVER_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@functools.cache
def deployments() -> list[object]:
    """The deployments the suite runs on: production's whenever a server may be there."""
    embedded = pytest.param(EMBEDDED, id=EMBEDDED.name)
    if not POSTGRES_SERVER_URL or not (IN_CI or _postgres_listens()):
        return [embedded]
    production = pytest.param(
        PRODUCTION, id=PRODUCTION.name, marks=[pytest.mark.postgres, pytest.mark.s3]
    )
    return [embedded, production]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that uses the suite's database or the vault's store on every deployment."""
    if "deployment" in metafunc.fixturenames:
        metafunc.parametrize("deployment", deployments(), indirect=True, scope="session")


@pytest.fixture(scope="session")
def deployment(request: pytest.FixtureRequest) -> Deployment:
    given: Deployment = request.param
    return given


@pytest.fixture(scope="session")
def database_url(
    deployment: Deployment, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The deployment's database: a fresh PostgreSQL database, or a SQLite file."""
    if deployment.database == "postgresql":
        server: PostgresServer | None = request.getfixturevalue("postgres")
        if server is None:
            require("PostgreSQL is unreachable")
        return server.create_database()
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'suite.db'}"


@pytest.fixture
def storage_url(deployment: Deployment, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The deployment's object store as STORAGE_URL says it: a folder, or a fresh bucket."""
    if deployment.store == "s3":
        from tests.stockage.conftest import ACCESS_KEY, SECRET_KEY

        endpoint: str = request.getfixturevalue("s3_server")
        bucket = f"test-{uuid.uuid4().hex[:20]}"
        return f"s3://{ACCESS_KEY}:{SECRET_KEY}@{endpoint}/{bucket}?secure=false"
    return f"file://{tmp_path / 'objects'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits only release savepoints of the test's transaction."""
    return sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def db_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, storage_url: str) -> Settings:
    return load_settings(
        {
            "ENV": "test",
            "VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url,
            "STORAGE_URL": storage_url,
        }
    )


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock) -> Iterator[Flask]:
    app = create_app(settings, clock=clock)
    runtime(app).sessions = sessions
    yield app
    runtime(app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- administration: two entities, each with a service, and their administrators ---------


@pytest.fixture
def ville(db_session: Session) -> Service:
    return make_service(db_session)


@pytest.fixture
def partner(db_session: Session) -> Service:
    return make_service(db_session)


@pytest.fixture
def global_admin(db_session: Session, clock: FrozenClock) -> Account:
    return make_account(db_session, clock, Role.ADMIN)


@pytest.fixture
def ville_admin(db_session: Session, clock: FrozenClock, ville: Service) -> Account:
    """An administrator of the entity of `ville` only."""
    return make_account(db_session, clock, Role.ADMIN, entity_id=ville.entity_id)


# --- Redis: the shared counters of several web processes ----------------------------------

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of the test's own on the local Redis server; its keys go after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        client.close()
        require(f"Redis is unreachable at {REDIS_URL}")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


# The fixtures that reach each real part, and the marker a test using them must carry, so
# that `-m "not browser"` or `-m s3` select exactly what they say. PostgreSQL is named only
# when a test asks for the server itself: every database test may run on it.
MARKER_OF_FIXTURE = {
    "browser": "browser",
    "live_server": "browser",
    "s3_server": "s3",
    "moto": "s3",
    "redis_prefix": "redis",
}
# Fixtures that ask for the server and still serve SQLite: the parametrised ones, whose
# PostgreSQL case carries the marker itself.
EITHER_DATABASE = {"database_url", "own_database", "deployment"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to collect a test that uses a real part without that part's marker."""
    unmarked = []
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        needed = {MARKER_OF_FIXTURE[name] for name in used & MARKER_OF_FIXTURE.keys()}
        if _asks_for_postgres(item):
            needed.add("postgres")
        missing = sorted(marker for marker in needed if item.get_closest_marker(marker) is None)
        if missing:
            unmarked.append(f"{item.nodeid}: needs @pytest.mark.{', @pytest.mark.'.join(missing)}")
    if unmarked:
        raise pytest.UsageError(
            "tests without the marker of the part they use:\n" + "\n".join(unmarked)
        )


def _asks_for_postgres(item: pytest.Item) -> bool:
    """Whether the test, or a fixture it uses, asks for the PostgreSQL server itself."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    if "postgres" in info.argnames:
        return True
    return any(
        "postgres" in definition.argnames
        for name, definitions in info.name2fixturedefs.items()
        if name not in EITHER_DATABASE
        for definition in definitions
    )
