"""The login page's throttle: counted across web processes, in French, with a way through."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role
from coffre.clock import FrozenClock, SystemClock
from tests.conftest import REDIS_URL
from tests.factories import make_account, page_text
from tests.stockage.conftest import free_port
from tests.web.auth.test_account import NEW_PASSWORD, link_in, open_link, post
from tests.web.auth.test_login import log_in
from tests.worker.test_crash import wait_until
from web import create_app, schema
from web.runtime import runtime
from web.settings import Settings, load_settings

WRONG = "not the password at all"


def fail(client: FlaskClient, email: str, times: int = 1) -> None:
    for _ in range(times):
        assert log_in(client, email, WRONG).status_code == 401


@pytest.fixture
def second_process(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> Iterator[Flask]:
    """Another web process of the same portal: its own app on the same database."""
    app = create_app(settings, clock=clock)
    runtime(app).sessions = sessions
    yield app
    runtime(app).engine.dispose()


def test_the_blocked_login_page_says_until_when_in_french_and_offers_a_reset(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    fail(client, family.email, 5)

    blocked = log_in(client, family.email)

    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "60"
    page = page_text(blocked)
    assert "Trop de tentatives de connexion infructueuses" in page
    # 08:01 UTC on 1 September is 10:01 in France.
    assert "la connexion est suspendue jusqu'à 10:01" in page
    assert '<a class="fr-link" href="/mot-de-passe-oublie">Réinitialiser mon mot de passe' in page


def test_the_owner_signs_in_once_the_wait_is_over(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    fail(client, family.email, 5)
    clock.advance(timedelta(seconds=59))
    assert log_in(client, family.email).status_code == 429

    clock.advance(timedelta(seconds=1))

    assert log_in(client, family.email).status_code == 302


def test_a_reset_link_lifts_the_block(
    client: FlaskClient, db_session: Session, clock: FrozenClock
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    fail(client, family.email, 5)
    assert log_in(client, family.email).status_code == 429

    assert post(client, "/mot-de-passe-oublie", email=family.email).status_code == 200
    page = open_link(client, link_in(db_session, "reinitialisation_mot_de_passe", family.email))
    assert post(client, page, password=NEW_PASSWORD, confirm=NEW_PASSWORD).status_code == 302

    assert log_in(client, family.email, NEW_PASSWORD).status_code == 302


def test_failures_in_one_process_count_in_another_through_the_database(
    client: FlaskClient, second_process: Flask, db_session: Session, clock: FrozenClock
) -> None:
    family = make_account(db_session, clock, Role.FAMILLE)
    other = second_process.test_client()

    fail(client, family.email, 3)
    fail(other, family.email, 2)

    assert log_in(client, family.email).status_code == 429
    assert log_in(other, family.email).status_code == 429


@pytest.mark.redis
def test_failures_in_one_process_count_in_another_through_redis(
    tmp_path: Path,
    database_url: str,
    sessions: sessionmaker[Session],
    db_session: Session,
    clock: FrozenClock,
    redis_prefix: str,
) -> None:
    env = {"ENV": "test", "VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": database_url}
    env |= {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": redis_prefix}
    family = make_account(db_session, clock, Role.FAMILLE)
    with ExitStack() as stack:
        clients = [stack.enter_context(_app_on(load_settings(env), sessions, clock)) for _ in "ab"]

        fail(clients[0], family.email, 3)
        fail(clients[1], family.email, 2)

        assert log_in(clients[0], family.email).status_code == 429
    keys = redis.Redis.from_url(REDIS_URL).keys(f"{redis_prefix}:login:*")
    assert len(keys) == 2  # the account's counter and the address's, under the prefix


@contextmanager
def _app_on(
    settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> Iterator[FlaskClient]:
    app = create_app(settings, clock=clock)
    runtime(app).sessions = sessions
    try:
        yield app.test_client()
    finally:
        runtime(app).engine.dispose()


# --- two real web processes -----------------------------------------------------------------


@contextmanager
def _web_processes(env: dict[str, str], logs: Path, count: int) -> Iterator[list[str]]:
    """The portal under `count` gunicorn masters of one worker each, on free loopback ports."""
    urls, servers = [], []
    with ExitStack() as stack:
        for number in range(count):
            port = free_port()
            output = stack.enter_context((logs / f"gunicorn-{number}.log").open("w"))
            command = [sys.executable, "-m", "gunicorn", "--workers", "1"]
            command += ["--bind", f"127.0.0.1:{port}", "web:create_app()"]
            servers.append(
                subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
            )
            urls.append(f"http://127.0.0.1:{port}")
        try:
            for url in urls:
                wait_until(lambda url=url: _answers(url), 60, f"gunicorn answers on {url}")
            yield urls
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(timeout=15)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or still loading the app
        return False


def _log_in_over_http(url: str, email: str, password: str) -> int:
    browser = requests.Session()
    form = browser.get(f"{url}/connexion", timeout=10).text
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert match
    data = {"email": email, "password": password, "csrf_token": match.group(1)}
    answer = browser.post(f"{url}/connexion", data=data, allow_redirects=False, timeout=10)
    return answer.status_code


def test_failures_count_across_two_gunicorn_processes_without_redis(tmp_path: Path) -> None:
    env = dict(os.environ, ENV="test", VAR_DIR=str(tmp_path / "var"))
    env.pop("RATELIMIT_STORAGE_URI", None)
    app = create_app(load_settings(env))
    schema.upgrade(runtime(app).engine)
    with runtime(app).sessions() as session:
        email = make_account(session, SystemClock(), Role.FAMILLE).email
    runtime(app).engine.dispose()

    with _web_processes(env, tmp_path, 2) as (first, second):
        statuses = [_log_in_over_http(first, email, WRONG) for _ in range(3)]
        statuses += [_log_in_over_http(second, email, WRONG) for _ in range(2)]
        statuses.append(_log_in_over_http(first, email, WRONG))

    assert statuses == [401] * 5 + [429]
