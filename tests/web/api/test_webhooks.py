"""Webhooks end to end: events become signed deliveries to a real local HTTP receiver,
refusals are retried with back-off, and the administrator reads the log."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from interop import webhooks
from interop.models import WebhookDelivery
from tests.factories import make_account, page_text
from tests.receiver import Receiver
from tests.web.agent.test_demande import Case, submitted_case
from tests.web.agents import sign_in_agent
from web.runtime import runtime

SECRET_KEY = "k" * 40


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def admin(db_session: Session, clock: FrozenClock) -> Account:
    return make_account(db_session, clock, Role.ADMIN)


def endpoint_for(
    db_session: Session, clock: FrozenClock, admin: Account, service: Service, url: str
) -> webhooks.NewEndpoint:
    return webhooks.create_endpoint(
        db_session, clock, admin.id, entity_id=service.entity_id, url=url,
        events=list(webhooks.EVENTS), secret_key=SECRET_KEY, production=False,
    )  # fmt: skip


def submit_and_collect(app: Flask, db_session: Session, clock: FrozenClock) -> tuple[Case, int]:
    """A crèche demande submitted after the sources' cursors start, and its events collected."""
    webhooks.collect(db_session, clock)  # the sources' cursors start at the present
    case = submitted_case(app, db_session, clock)
    clock.advance(timedelta(seconds=10))  # past the settling delay
    return case, webhooks.collect(db_session, clock)


def test_a_submitted_demande_reaches_the_receiver_signed(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    admin: Account,
    receiver: Receiver,
) -> None:
    new = endpoint_for(db_session, clock, admin, petite_enfance, receiver.url)

    case, made = submit_and_collect(app, db_session, clock)
    sent = webhooks.send_due(db_session, clock, SECRET_KEY)

    assert made >= 4  # deposee, and the three documents shared
    assert sent == made
    events = {}
    for headers, body in receiver.received:
        now = int(clock.now().timestamp())
        assert webhooks.verify(new.secret, headers["Portail-Signature"], body, now)
        assert not webhooks.verify(new.secret, headers["Portail-Signature"], body + b" ", now)
        assert not webhooks.verify("autre", headers["Portail-Signature"], body, now)
        late = now + webhooks.REPLAY_WINDOW + 1
        assert not webhooks.verify(new.secret, headers["Portail-Signature"], body, late)
        events.setdefault(headers["Portail-Event"], []).append(json.loads(body))
    assert len(events["document.partage"]) == 3
    [deposee] = events["demande.deposee"]
    demande = deposee["data"]["demande"]
    assert demande["id"] == case.demande_id and demande["status"] == "deposee"
    assert demande["child"]["first_name"] == "Léa"  # the identity, not an id
    assert demande["foyer"]["label"] == "Famille Lambert"
    assert webhooks.collect(db_session, clock) == 0  # each event once


def test_a_refusal_is_retried_later_then_given_up(
    app: Flask,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    admin: Account,
    receiver: Receiver,
) -> None:
    endpoint_for(db_session, clock, admin, petite_enfance, receiver.url)
    submit_and_collect(app, db_session, clock)
    receiver.status = 503

    assert webhooks.send_due(db_session, clock, SECRET_KEY) == 0
    assert len(receiver.received) == 1  # the endpoint failed: its others wait this round
    assert webhooks.send_due(db_session, clock, SECRET_KEY) == 0  # none due before a minute
    assert len(receiver.received) == 1
    first = db_session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
    assert first is not None and first.attempts == 1 and first.last_status == 503

    receiver.status = 200
    clock.advance(timedelta(minutes=2))
    webhooks.send_due(db_session, clock, SECRET_KEY)
    db_session.expire_all()
    assert all(d.delivered_at for d in db_session.scalars(select(WebhookDelivery)))
    uids = [headers["Portail-Delivery"] for headers, _ in receiver.received]
    assert uids[0] == uids[1]  # the same delivery, retried under the same id


def test_an_unreachable_receiver_is_given_up_after_the_last_back_off(
    app: Flask, db_session: Session, clock: FrozenClock, petite_enfance: Service, admin: Account
) -> None:
    endpoint_for(db_session, clock, admin, petite_enfance, "http://127.0.0.1:9/nulle-part")
    submit_and_collect(app, db_session, clock)

    for wait in (timedelta(0), *webhooks.BACKOFF):
        clock.advance(wait)
        webhooks.send_due(db_session, clock, SECRET_KEY, batch=500)

    db_session.expire_all()
    deliveries = db_session.scalars(select(WebhookDelivery)).all()
    given_up = [d for d in deliveries if d.failed_at is not None]
    assert given_up and all(d.last_error for d in given_up)
    assert given_up[0].attempts == len(webhooks.BACKOFF) + 1


def test_the_administrator_registers_an_endpoint_and_reads_its_log(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    clock: FrozenClock,
    petite_enfance: Service,
    admin: Account,
    receiver: Receiver,
) -> None:
    assert sign_in_agent(client, admin).status_code == 302
    page = client.get("/admin/webhooks")
    token = _csrf(page.get_data(as_text=True))
    bad = client.post(
        "/admin/webhooks",
        data={"csrf_token": token, "entite": petite_enfance.entity_id, "url": "ftp://x",
              "evenements": ["demande.acceptee"]},
    )  # fmt: skip
    created = client.post(
        "/admin/webhooks",
        data={"csrf_token": token, "entite": petite_enfance.entity_id, "url": receiver.url,
              "evenements": ["demande.deposee"]},
    )  # fmt: skip

    assert bad.status_code == 400 and "https://" in page_text(bad)
    assert created.status_code == 201
    secret = _secret(created.get_data(as_text=True))
    submit_and_collect(app, db_session, clock)
    webhooks.send_due(db_session, clock, runtime(app).settings.secret_key)
    [(headers, body)] = receiver.received  # only the event chosen
    assert webhooks.verify(secret, headers["Portail-Signature"], body, int(clock.now().timestamp()))
    endpoint_id = db_session.scalars(select(WebhookDelivery.endpoint_id)).one()
    log = page_text(client.get(f"/admin/webhooks/{endpoint_id}"))
    assert "Demande déposée" in log and "HTTP 204" in log
    assert secret not in log  # shown once, at creation


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _secret(html: str) -> str:
    found = re.search(r'<code id="secret-webhook">([0-9a-f]{64})</code>', html)
    assert found
    return found.group(1)
