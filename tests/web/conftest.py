"""Fixtures of the web tests: a family account, logged in, and documents in its vault."""

from __future__ import annotations

import io
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from accounts.models import Account, Role
from coffre.clock import FrozenClock
from coffre.models import Document
from coffre.vault import Upload
from demo.seed import demo_pdf
from tests.factories import make_account
from tests.web.auth.test_login import log_in
from tests.web.browser import browser, deployed, live_server  # noqa: F401  (fixtures)
from web.runtime import runtime


@pytest.fixture
def family(db_session: Session, clock: FrozenClock) -> Account:
    return make_account(db_session, clock, Role.FAMILLE)


@pytest.fixture
def family_client(client: FlaskClient, family: Account) -> FlaskClient:
    """The test client, logged in as `family`."""
    assert log_in(client, family.email).status_code == 302
    return client


def deposit(
    app: Flask,
    session: Session,
    foyer_id: int,
    type_code: str = "justificatif_domicile",
    *,
    issued_on: date = date(2026, 8, 1),
    member_id: int | None = None,
    filename: str = "facture.pdf",
    content: bytes | None = None,
) -> Document:
    """Put a document straight into a foyer's vault, as the vault's service does it."""
    upload = Upload(
        foyer_id=foyer_id,
        type_code=type_code,
        filename=filename,
        stream=io.BytesIO(content if content is not None else demo_pdf(filename)),
        issued_on=issued_on,
        member_id=member_id,
    )
    return runtime(app).vault.deposit(session, upload)
