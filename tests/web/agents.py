"""Signing an agent in, as every back-office test does it (the login steps live here only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from accounts import second_factor
from accounts.credentials import find_account
from accounts.models import Account
from coffre.clock import FrozenClock
from demo.seed import DEMO_PASSWORD

# A module import: test_auth imports this module back.
from tests.web.auth import test_login as test_auth
from tests.web.browser import MovableClock
from web.runtime import runtime

SECOND_FACTOR_PAGE = "/connexion/second-facteur"
# The secrets this helper enrolled, by their sealed form (ids can be reused after a rollback).
_secrets: dict[str, str] = {}


def sign_in_agent(client: FlaskClient, account: Account) -> TestResponse:
    """Log a back-office account (agent or administrator) in through the real login pages.

    The account is enrolled first through the service functions when it has no second factor
    this helper knows; the code is computed with pyotp. Returns the last response of the
    login steps; a success is a 302 into the back office.
    """
    app = client.application
    secret = enrolled_secret(app, account.id)
    response = test_auth.log_in(client, account.email)
    if response.status_code != 302 or response.headers["Location"] != SECOND_FACTOR_PAGE:
        return response
    return submit_code(client, SECOND_FACTOR_PAGE, next_code(app, account.id, secret))


def submit_code(client: FlaskClient, page: str, code: str) -> TestResponse:
    """Post a code on the second factor's page or the enrolment page."""
    return client.post(page, data={"code": code, "csrf_token": test_auth.csrf_token(client, page)})


def enrolled_secret(app: Flask, account_id: int) -> str:
    """The account's TOTP secret, enrolling (or re-enrolling) it through the services."""
    rt = runtime(app)
    with rt.sessions() as session:
        sealed = _account(session, account_id).totp_secret_encrypted
        confirmed = _account(session, account_id).totp_confirmed_at is not None
        if sealed is not None and confirmed and sealed in _secrets:
            return _secrets[sealed]
        second_factor.reset_second_factor(session, account_id)
        secret = second_factor.start_enrolment(session, rt.keyring, account_id).secret
        code = next_code(app, account_id, secret)
        second_factor.confirm_enrolment(session, rt.clock, rt.keyring, account_id, code)
        sealed = _account(session, account_id).totp_secret_encrypted
    assert sealed is not None
    _secrets[sealed] = secret
    return secret


def next_code(app: Flask, account_id: int, secret: str) -> str:
    """The earliest code the server still accepts for this account.

    Under a frozen clock the oldest step of the window comes first (several logins fit in
    one instant); under a served portal's clock, where time passes, the step before the
    current one is skipped, as it may lapse in transit. When the window is used up, the
    app's clock is moved on by one step: the test never waits for the wall clock.
    """
    rt = runtime(app)
    totp = pyotp.TOTP(secret)
    frozen = isinstance(rt.clock, FrozenClock)
    if not isinstance(rt.clock, FrozenClock | MovableClock):
        raise TypeError("sign agents in on an app given a FrozenClock or a MovableClock")
    window = second_factor.VALID_WINDOW
    while True:
        with rt.sessions() as session:
            last = _account(session, account_id).totp_last_counter
        current = totp.timecode(rt.clock.now())
        for counter in range(current - window if frozen else current, current + window + 1):
            if last is None or counter > last:
                return totp.generate_otp(counter)
        rt.clock.advance(timedelta(seconds=totp.interval))


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    assert account is not None
    return account


def sign_in_agent_in_browser(page: Any, base_url: str, app: Flask, email: str) -> None:
    """The same login in a real browser: password page, then the code page.

    `app` is the served portal's (tests.web.browser.serve_portal gives it); the account is
    enrolled through the services first, so the browser only meets the code page.
    """
    with runtime(app).sessions() as session:
        account = find_account(session, email)
        assert account is not None
        account_id = account.id
    secret = enrolled_secret(app, account_id)
    page.goto(base_url + "/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(base_url + SECOND_FACTOR_PAGE)
    page.get_by_label("Code à 6 chiffres").fill(next_code(app, account_id, secret))
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_url(lambda url: SECOND_FACTOR_PAGE not in url)
