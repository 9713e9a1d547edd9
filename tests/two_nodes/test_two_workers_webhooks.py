"""Two workers sending the webhooks' deliveries at the same moment: each goes out once.

Each worker runs `send_due` every 15 seconds; two started together send in step. A slow
receiver keeps the first worker on its first delivery while the second one starts its round.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from accounts.models import Entity
from coffre.clock import SystemClock
from coffre.db import make_session_factory
from interop import webhooks
from interop.models import WebhookDelivery, WebhookEndpoint
from tests.receiver import Receiver

DELIVERIES = 10
SECRET_KEY = "k" * 40


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver that takes 0.2 s to answer: both workers are sending at the same time."""
    server = Receiver(delay=0.2)
    yield server
    server.close()


@pytest.mark.postgres
def test_two_workers_sending_at_once_deliver_each_webhook_once(
    postgres_database: Engine, receiver: Receiver
) -> None:
    sessions = make_session_factory(postgres_database)
    clock = SystemClock()
    with sessions() as session:
        entity = Entity(slug="ville", name="Ville")
        session.add(entity)
        session.flush()
        endpoint = WebhookEndpoint(
            entity_id=entity.id, url=receiver.url, events="demande.deposee", salt="0" * 32,
            active=True, created_at=clock.now(),
        )  # fmt: skip
        session.add(endpoint)
        session.flush()
        due = clock.now() - timedelta(seconds=1)
        session.add_all(
            WebhookDelivery(
                uid=uuid.uuid4().hex,
                endpoint_id=endpoint.id,
                event="demande.deposee",
                event_key=f"demande_event:{number}",
                payload="{}",
                created_at=due,
                next_attempt_at=due,
            )
            for number in range(DELIVERIES)
        )
        session.commit()

    def worker() -> None:
        with sessions() as session:
            webhooks.send_due(session, clock, SECRET_KEY)

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    received = Counter(headers["Portail-Delivery"] for headers, _body in receiver.received)
    assert len(received) == DELIVERIES
    assert set(received.values()) == {1}
