"""Signing an agent in, as every back-office test does it (the login steps live here only)."""

from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from procedures.models import Account
from tests.web.test_auth import log_in


def sign_in_agent(client: FlaskClient, account: Account) -> TestResponse:
    """Log a back-office account (agent or administrator) in through the real login pages.

    Returns the last response of the login steps; a success is a 302 into the back office.
    """
    return log_in(client, account.email)
