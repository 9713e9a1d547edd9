"""Two nodes of one portal under a mixed load, one web node and one worker killed half-way.

Two gunicorn instances on two ports and two `flask worker` processes share one PostgreSQL
database, one S3 server (moto), one SMTP server (aiosmtpd) and one Redis. Families deposit a
proof of address and submit a demande on both nodes; the demande's diagram waits 5 seconds
on a timer the workers fire, then asks an agent for one step, which agents complete on both
nodes. Half-way through, one web node (gunicorn's master and workers) and one worker get
SIGKILL; their users move to the surviving node. Then: no demande or document lost or
doubled, every timer fired once, every e-mail delivered and none twice (but the one a killed
worker may have had in flight), every document reads back with its digest, the journal
verifies, and failed logins count across both nodes through Redis.

Not in the default run (about two minutes): `make two-nodes`, i.e. `pytest -m two_nodes`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from coffre.clock import SystemClock
from coffre.journal.signing_key import create_signing_key_file
from coffre.keyring import create_keyring_file
from coffre.models import Document
from notifications import outbox
from notifications.models import OutboxMessage
from procedures.models import Demande, DemandeEvent, DemandeStatus, Task, TaskState
from tests.coffre.conftest import pdf_of
from tests.conftest import REDIS_URL, PostgresServer, require
from tests.fixtures import Mailbox
from tests.stockage.conftest import ACCESS_KEY, SECRET_KEY
from tests.two_nodes.clients import Agent, Browser, Family
from tests.two_nodes.cluster import Cluster, run_cli
from tests.two_nodes.seed import PASSWORD, PROCEDURE, Accounts, make_accounts, publish_and_submit
from web.runtime import Runtime, build_runtime
from web.settings import load_settings
from worker.models import WorkerHeartbeat

pytestmark = [pytest.mark.two_nodes, pytest.mark.postgres, pytest.mark.s3, pytest.mark.redis]

FAMILIES = 8  # four on each node at first
DEMANDES_EACH = 3
AGENTS = 3
PREPARED = 12  # their timers are due when the workers start: both race for them
SENDER = "Portail famille <ne-pas-repondre@bellerive.example>"
WRONG = "not the password at all"


@pytest.fixture
def environment(
    tmp_path: Path, postgres: PostgresServer | None, s3_server: str, smtp_server: Controller,
    redis_prefix: str,
) -> dict[str, str]:  # fmt: skip
    """Production's settings, the same for every process of both nodes."""
    if postgres is None:
        require("PostgreSQL is unreachable")
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    create_keyring_file(keys / "master.keys")
    create_signing_key_file(keys / "journal.key")
    bucket = f"two-nodes-{uuid.uuid4().hex[:20]}"
    return dict(
        os.environ,
        ENV="production",
        FLASK_APP="web:create_app",
        VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=postgres.create_database(),
        STORAGE_URL=f"s3://{ACCESS_KEY}:{SECRET_KEY}@{s3_server}/{bucket}?secure=false",
        MASTER_KEY_FILE=str(keys / "master.keys"),
        JOURNAL_KEY_FILE=str(keys / "journal.key"),
        SECRET_KEY="two-nodes-" + "s" * 40,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_server.port),
        SMTP_FROM=SENDER,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=redis_prefix,
    )


@pytest.fixture
def runtime(environment: dict[str, str]) -> Iterator[Runtime]:
    """The test's own view of the database and the store (it seeds, then checks)."""
    migrated = run_cli(environment, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    rt = build_runtime(load_settings(environment))
    yield rt
    rt.engine.dispose()


@pytest.fixture
def cluster(environment: dict[str, str], tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(environment, tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


def test_two_nodes_lose_nothing_and_double_nothing_when_one_of_each_is_killed(
    runtime: Runtime, cluster: Cluster, mailbox: Mailbox
) -> None:
    prepared = publish_and_submit(runtime, PREPARED)
    for name in ("web-a", "web-b"):
        cluster.start_web(name)
    wait_until_due(runtime)
    # Both workers start with due timers: their first rounds race for the same demandes.
    # The timers' job comes round every minute: the sooner they start, the sooner it ends.
    killed_worker, _ = cluster.start_worker("worker-1"), cluster.start_worker("worker-2")
    accounts = make_accounts(runtime, FAMILIES, AGENTS)
    cluster.wait_until_serving()
    prefix = cluster.env["RATELIMIT_KEY_PREFIX"]
    assert_failed_logins_count_on_both_nodes(cluster.urls, accounts.locked_out, prefix)

    families, agents = load(runtime, cluster, accounts, len(prepared))

    wait_until_sent(runtime)
    assert killed_worker.popen.returncode == cluster.web[1].popen.returncode == -signal.SIGKILL
    assert sum(user.browser.failovers for user in [*families, *agents]) > 0
    assert_demandes_and_documents_once(runtime, prepared, [*families, *agents])
    assert_each_timer_fired_once(runtime)
    assert_each_email_delivered_and_at_most_the_one_in_flight_twice(runtime, mailbox)
    assert_vault_and_journal_verify(cluster.env)


def load(
    rt: Runtime, cluster: Cluster, accounts: Accounts, prepared: int
) -> tuple[list[Family], list[Agent]]:
    """Families and agents on both nodes; node B and worker 1 killed when half the families'
    demandes are submitted. Returns the users, with what the portal confirmed to each."""
    families = [
        Family(Browser(cluster.urls, number % 2), email, PASSWORD, pdf_of)
        for number, email in enumerate(accounts.families)
    ]
    agents = [
        Agent(Browser(cluster.urls, number % 2), email, PASSWORD, secret)
        for number, (email, secret) in enumerate(accounts.agents)
    ]
    for agent in agents:
        agent.log_in()
    steps = OpenSteps(rt, prepared + len(families) * DEMANDES_EACH)
    errors: list[BaseException] = []

    def start(run: Callable[..., None], *args: object) -> threading.Thread:
        def body() -> None:
            try:
                run(*args)
            except BaseException as exc:  # reported by the test, not lost in a thread
                errors.append(exc)
                steps.give_up.set()

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread

    family_threads = [start(family.run, DEMANDES_EACH, PROCEDURE) for family in families]
    agent_threads = [start(agent.work, steps.live, steps.finished) for agent in agents]
    wait_for_half_of(families, steps.give_up)
    cluster.workers[0].kill_group()
    cluster.web[1].kill_group()
    for thread in family_threads:
        thread.join(timeout=180)
    steps.families_done.set()
    for thread in agent_threads:
        thread.join(timeout=240)
    assert not errors, errors
    return families, agents


class OpenSteps:
    """The agents' view of the work: the steps open now, and whether every demande is done."""

    def __init__(self, rt: Runtime, expected: int) -> None:
        self.rt = rt
        self.expected = expected
        self.families_done = threading.Event()
        self.give_up = threading.Event()  # a user failed: the others stop too
        self.deadline = time.monotonic() + 300

    def live(self) -> list[tuple[int, int]]:
        with self.rt.sessions() as session:
            rows = session.execute(
                select(Task.demande_id, Task.id).where(
                    Task.spec_id == "instruire", Task.state.in_([TaskState.OPEN, TaskState.CLAIMED])
                )
            )
            return [(demande, task) for demande, task in rows]

    def finished(self) -> bool:
        """Every demande the families and the seed submitted has reached its end (or the
        load is abandoned: the checks then say what is missing)."""
        if self.give_up.is_set() or time.monotonic() > self.deadline:
            return True
        if not self.families_done.is_set():
            return False
        with self.rt.sessions() as session:
            closed = session.scalar(
                select(func.count(Demande.id)).where(
                    Demande.submitted_at.is_not(None), Demande.closed_at.is_not(None)
                )
            )
        return closed == self.expected


def wait_until_due(rt: Runtime, seconds: float = 30) -> None:
    """Until every waiting timer has fallen due."""
    with rt.sessions() as session:
        latest = session.scalar(select(func.max(Demande.wakes_at)))
    assert latest is not None
    while SystemClock().now() <= latest:
        assert seconds > 0, "the timers never fell due"
        time.sleep(0.2)
        seconds -= 0.2


def wait_for_half_of(
    families: list[Family], give_up: threading.Event, seconds: float = 120
) -> None:
    """Until the families have submitted half of their demandes."""
    goal = len(families) * DEMANDES_EACH / 2
    deadline = time.monotonic() + seconds
    while sum(len(family.submitted) for family in families) < goal and not give_up.is_set():
        assert time.monotonic() < deadline, "the families never got half-way"
        time.sleep(0.1)


def wait_until_sent(rt: Runtime, seconds: float = 120) -> None:
    """Until the outbox is empty (the surviving worker sends every 15 seconds)."""
    deadline = time.monotonic() + seconds
    while True:
        with rt.sessions() as session:
            unsent = session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None))
            )
        if unsent == 0:
            return
        assert time.monotonic() < deadline, f"{unsent} e-mails still unsent"
        time.sleep(0.5)


def assert_failed_logins_count_on_both_nodes(urls: list[str], email: str, prefix: str) -> None:
    """Five failures spread over the two nodes lock the account on both, counted in Redis."""
    statuses = [Browser(urls, number % 2).log_in(email, WRONG).status_code for number in range(5)]
    assert statuses == [401] * 5
    locked = [Browser(urls, node).log_in(email, PASSWORD).status_code for node in (0, 1)]
    assert locked == [429, 429]
    counters = redis.Redis.from_url(REDIS_URL)
    try:
        assert len(counters.keys(f"{prefix}:login:*")) == 2  # the account's and the address's
    finally:
        counters.close()


def assert_demandes_and_documents_once(
    rt: Runtime, prepared: list[int], users: list[Family | Agent]
) -> None:
    """Each demande a family was told is submitted is there once, accepted, and no other; each
    file it was told is deposited is there once, with the digest of what it sent. A draft is
    left behind only where an answer was cut."""
    families = [user for user in users if isinstance(user, Family)]
    confirmed = [demande for family in families for demande in family.submitted]
    deposited = {name: digest for family in families for name, digest in family.deposited.items()}
    assert len(confirmed) == len(set(confirmed)) == len(deposited) == FAMILIES * DEMANDES_EACH
    with rt.sessions() as session:
        statuses = dict(session.execute(select(Demande.id, Demande.status)).all())
        numbers = session.scalars(select(Demande.number).where(Demande.number.is_not(None))).all()
        documents = [
            (name, digest)
            for name, digest in session.execute(select(Document.original_name, Document.sha256))
        ]
    submitted = {id_ for id_, status in statuses.items() if status is not DemandeStatus.BROUILLON}
    assert sorted(submitted) == sorted([*confirmed, *prepared])
    assert {statuses[id_] for id_ in submitted} == {DemandeStatus.ACCEPTEE}
    assert len(set(numbers)) == len(submitted)
    drafts = len(statuses) - len(submitted)
    assert drafts <= sum(user.browser.failovers for user in users)
    stored = Counter(documents)
    assert all(stored[(name, digest)] == 1 for name, digest in deposited.items()), stored
    assert len(documents) == len(deposited) + len(prepared)


def assert_each_timer_fired_once(rt: Runtime) -> None:
    """One message to the family (sent after the timer) and one agent step per demande; both
    workers ran."""
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 2
        demande_ids = list(session.scalars(select(Demande.id).where(Demande.number.is_not(None))))
        messages = Counter(
            session.scalars(select(DemandeEvent.demande_id).where(DemandeEvent.kind == "message"))
        )
        steps = Counter(
            session.scalars(
                select(Task.demande_id).where(
                    Task.spec_id == "instruire", Task.state == TaskState.DONE
                )
            )
        )
        all_steps = session.scalar(select(func.count(Task.id)))
        waiting = session.scalar(
            select(func.count(Demande.id)).where(Demande.wakes_at.is_not(None))
        )
    assert {demande: messages[demande] for demande in demande_ids} == dict.fromkeys(demande_ids, 1)
    assert {demande: steps[demande] for demande in demande_ids} == dict.fromkeys(demande_ids, 1)
    assert all_steps == len(demande_ids) and waiting == 0


def assert_each_email_delivered_and_at_most_the_one_in_flight_twice(
    rt: Runtime, mailbox: Mailbox
) -> None:
    """Every outbox message reached the SMTP server; only a message the killed worker had
    in flight (sent, its "sent" not yet committed) may have gone twice, with one Message-ID."""
    with rt.sessions() as session:
        keys = list(session.scalars(select(OutboxMessage.idempotency_key)))
        per_template = Counter(session.scalars(select(OutboxMessage.template)))
    received = Counter(str(message["Message-ID"]) for message in mailbox.messages)
    expected = {outbox.message_id(key, SENDER) for key in keys}
    assert set(received) == expected
    twice = [message_id for message_id, count in received.items() if count > 1]
    assert len(twice) <= 1 and all(received[message_id] == 2 for message_id in twice)
    demandes = PREPARED + FAMILIES * DEMANDES_EACH
    assert per_template["demande_recue"] == per_template["message_demarche"] == demandes


def assert_vault_and_journal_verify(env: dict[str, str]) -> None:
    """The operator's checks: every document reads back with its digest; the journal holds."""
    commands = [("coffre", "verify"), ("coffre", "journal", "verify")]
    with ThreadPoolExecutor(len(commands)) as pool:  # two processes: two cores
        results = list(pool.map(lambda command: run_cli(env, *command), commands))
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 0, f"flask {' '.join(command)}: {result.stdout}{result.stderr}"
