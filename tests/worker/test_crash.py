"""The worker killed (SIGKILL) while it sends e-mail, then restarted: nothing lost, nothing doubled.

The outbox holds one row per event (unique idempotency key), each sent and committed on
its own; a kill between the SMTP server's "250" and the commit can resend only the message
in flight, and that resend carries the same Message-ID, so the receiver can drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from coffre.clock import FrozenClock, SystemClock
from coffre.db import make_engine, make_session_factory
from notifications import outbox
from notifications.models import OutboxMessage
from procedures import demandes
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus
from tests.coffre.conftest import deposit, make_foyer, pdf_of
from tests.factories import make_service
from tests.procedures.flows import agent_of, child_of, family_of, publish, work
from tests.stockage.conftest import free_port
from web.runtime import build_runtime
from web.settings import load_settings

MESSAGES = 30
HELD = 10  # the message in flight when the worker is killed
SENDER = "Portail famille <ne-pas-repondre@bellerive.example>"
QUIET: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


class GatedMailbox:
    """An SMTP server that holds the HELD-th message before its "250" until released.

    The worker waits for that reply, mid-batch, when the test kills it: by construction, not
    by luck. The held message counts as received (the server got it, the reply was lost).
    """

    def __init__(self) -> None:
        self.message_ids: list[str] = []
        self.holding = threading.Event()
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def handle_DATA(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.message_ids.append(str(parsed["Message-ID"]))
        if len(self.message_ids) == HELD:
            self._loop, self._release = asyncio.get_running_loop(), asyncio.Event()
            self.holding.set()
            await self._release.wait()
        return "250 Message accepted for delivery"

    def release(self) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)


@pytest.fixture
def gated_smtp() -> Iterator[Controller]:
    mailbox = GatedMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    mailbox.release()
    controller.stop()


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def test_a_worker_killed_while_sending_resends_only_the_message_in_flight(
    tmp_path: Path, gated_smtp: Controller
) -> None:
    env = dict(
        os.environ,
        ENV="test",
        VAR_DIR=str(tmp_path),
        FLASK_APP="web:create_app",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(gated_smtp.port),
        SMTP_FROM=SENDER,
    )
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = make_engine(f"sqlite:///{tmp_path / 'portail.db'}")
    sessions = make_session_factory(engine)
    clock = SystemClock()
    keys = [f"crash-test:{number}" for number in range(MESSAGES)]
    with sessions() as session:
        for key in keys:
            outbox.enqueue(
                session,
                clock,
                key=key,
                recipient="famille@test.example",
                template="demande_recue",
                context={"reference": key, "demarche": "Crèche", "lien": "http://portail/"},
            )
        session.commit()
    mailbox: GatedMailbox = gated_smtp.handler

    def unsent() -> int:
        with sessions() as session:
            return (
                session.scalar(
                    select(func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None))
                )
                or 0
            )

    first = subprocess.Popen(
        [*flask, "worker", "--tick", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert mailbox.holding.wait(60), "the worker never reached the held message"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        mailbox.release()
    # Those before the held one were sent and marked sent, one by one; it and the rest were not.
    assert len(mailbox.message_ids) == HELD
    assert unsent() == MESSAGES - HELD + 1

    second = subprocess.Popen(
        [*flask, "worker", "--tick", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: unsent() == 0, 60, "every message is sent")
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=15)
    finally:
        if second.poll() is None:
            second.kill()

    expected = {outbox.message_id(key, SENDER) for key in keys}
    received = mailbox.message_ids
    assert set(received) == expected  # every event's message arrived
    held = received[HELD - 1]
    assert len(received) == MESSAGES + 1  # the one in flight is resent, with its Message-ID
    assert [message for message in received if received.count(message) > 1] == [held, held]
    with sessions() as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == MESSAGES
    engine.dispose()


OFFERS = 40
HELD_AFTER = 3  # timers fired when the first worker is killed
HOLD_TIMERS = """
CREATE TRIGGER hold_timers BEFORE INSERT ON demande_events
WHEN NEW.kind = 'timeout' AND (SELECT count(*) FROM demande_events WHERE kind = 'timeout') >= 3
BEGIN SELECT RAISE(ABORT, 'held by the test'); END
"""


def test_a_worker_killed_while_firing_timers_fires_each_exactly_once_after_restart(
    tmp_path: Path,
) -> None:
    env = dict(os.environ, ENV="test", VAR_DIR=str(tmp_path), FLASK_APP="web:create_app")
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, check=True, capture_output=True)
    rt = build_runtime(load_settings(env))
    clock = FrozenClock()  # September 2026: every offer made then has lapsed for the worker
    ctx = EngineContext(clock=clock, base_url="http://portail", vault=rt.vault)
    with rt.sessions() as session:
        service = make_service(session, code="petite-enfance")
        publish(session, clock, "creche")
        agent = agent_of(session, clock, service)
        for number in range(OFFERS):
            foyer = make_foyer(session, clock, f"Foyer {number}")
            family = family_of(session, clock, foyer)
            papers = [
                deposit(rt.vault, session, foyer, pdf_of(number), issued_on=date(2026, 8, 10)),
                deposit(rt.vault, session, foyer, pdf_of(number), type_code="avis_imposition"),
                deposit(
                    rt.vault, session, foyer, pdf_of(number), type_code="carnet_vaccination",
                    member_id=child_of(foyer),
                ),
            ]  # fmt: skip
            draft = demandes.create_draft(session, ctx, family, "creche")
            form = {"enfant": str(child_of(foyer)), "date_entree": "2027-01-04", "jours": "4"}
            demande = demandes.submit(
                session, ctx, family, draft.id, form, [paper.id for paper in papers]
            )
            work(session, ctx, agent, demande, {})
            work(session, ctx, agent, demande, {"decision": "place", "motif": ""})

    def last_beat() -> str:
        with contextlib.closing(
            sqlite3.connect(f"file:{tmp_path / 'portail.db'}?mode=ro", uri=True)
        ) as db:
            return str(db.execute("SELECT max(beat_at) FROM worker_heartbeats").fetchone()[0])

    def timeouts() -> list[int]:
        # A plain WAL reader, which never waits for the worker's write lock (the app's
        # sessions begin IMMEDIATE and would only see the worker between two timers).
        with contextlib.closing(
            sqlite3.connect(f"file:{tmp_path / 'portail.db'}?mode=ro", uri=True)
        ) as db:
            rows = db.execute("SELECT demande_id FROM demande_events WHERE kind = 'timeout'")
            return [row[0] for row in rows]

    # The batch is held after its third timer: the fourth one's event is refused, so its
    # transaction rolls back and the worker can go no further until the hold is lifted.
    with contextlib.closing(sqlite3.connect(tmp_path / "portail.db")) as db, db:
        db.execute(HOLD_TIMERS)
    first = subprocess.Popen([*flask, "worker", "--tick", "0.1"], env=env, **QUIET)
    try:
        wait_until(lambda: len(timeouts()) == HELD_AFTER, 120, "the batch reached the hold")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert len(timeouts()) == HELD_AFTER
    with contextlib.closing(sqlite3.connect(tmp_path / "portail.db")) as db, db:
        db.execute("DROP TRIGGER hold_timers")

    second = subprocess.Popen([*flask, "worker", "--tick", "0.1"], env=env, **QUIET)
    try:
        wait_until(lambda: len(timeouts()) >= OFFERS, 120, "every timer fired")
        # A tick beats, then runs its jobs: a later beat means the run that fired the last
        # timer is over, so a second firing of any of them would be in the table by now.
        fired_by = last_beat()
        wait_until(lambda: last_beat() > fired_by, 30, "the worker's next tick")
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=15)
    finally:
        if second.poll() is None:
            second.kill()

    fired = timeouts()
    assert len(fired) == len(set(fired)) == OFFERS
    with rt.sessions() as session:
        statuses = set(session.scalars(select(Demande.status)))
    assert statuses == {DemandeStatus.CLASSEE}
    rt.engine.dispose()
