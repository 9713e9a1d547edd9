"""`flask coffre journal checkpoint | verify | public-key`, and the worker's hourly checkpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import FrozenClock
from coffre.journal import chain as journal
from coffre.journal.checkpoints import stored_keys
from coffre.journal.signing_key import create_signing_key_file
from coffre.models import Foyer, JournalCheckpoint, JournalEntry, JournalHead
from tests.coffre.conftest import make_foyer
from tests.tsa import LoopbackTsa, tsa  # noqa: F401  (fixture)
from web import create_app
from web.cli.checkpointing import anchoring_from
from web.runtime import Runtime, runtime
from web.settings import Settings
from worker.jobs import register_standard_jobs
from worker.loop import Worker

ANCHOR_LINE = "last checkpoint: "


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["coffre", "journal", *args])


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return runtime(app)


@pytest.fixture
def session(rt: Runtime) -> Iterator[Session]:
    with rt.sessions() as opened:
        yield opened


@pytest.fixture
def foyer(app: Flask, session: Session, clock: FrozenClock) -> Foyer:
    with app.app_context():
        return make_foyer(session, clock, "Martin")


def record(session: Session, clock: FrozenClock, foyer: Foyer, count: int) -> str:
    for _ in range(count):
        clock.advance(timedelta(minutes=1))
        journal.record(session, clock, "document.read", foyer_id=foyer.id)
    session.commit()
    return journal.chain_of(foyer.id)


def cut_and_rehash(session: Session, chain: str, seq: int) -> None:
    """Delete one entry with SQL, then renumber and re-hash the rest as a forger would."""
    at_seq = (JournalEntry.chain == chain) & (JournalEntry.seq == seq)
    session.execute(delete(JournalEntry).where(at_seq))
    previous = session.scalars(
        select(JournalEntry.hash).where(JournalEntry.chain == chain, JournalEntry.seq == seq - 1)
    ).one()
    later = select(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq > seq)
    last = seq - 1
    for entry in session.scalars(later.order_by(JournalEntry.seq)).all():
        entry.seq, entry.prev_hash = entry.seq - 1, previous
        entry.hash = previous = journal.entry_hash(entry)
        last = entry.seq
        session.flush()
    head = update(JournalHead).where(JournalHead.chain == chain)
    session.execute(head.values(seq=last, hash=previous))
    session.commit()


def app_with(settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock) -> Flask:
    """Another app on the same database and store, configured otherwise."""
    other = create_app(settings, clock=clock)
    runtime(other).sessions = sessions
    return other


def test_checkpoint_then_a_cut_and_rehashed_chain_fails_verify_even_without_the_db_copy(
    app: Flask, session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    chain = record(session, clock, foyer, 2)
    assert run(app, "checkpoint").exit_code == 0
    record(session, clock, foyer, 3)
    clock.advance(timedelta(hours=1))
    written = run(app, "checkpoint")
    assert written.exit_code == 0, written.output
    assert written.output.startswith("Checkpoint journal-checkpoints/")
    assert "1 chains." in written.output

    cut_and_rehash(session, chain, 3)
    session.execute(delete(JournalCheckpoint))
    session.commit()
    result = run(app, "verify")

    assert result.exit_code == 1, result.output
    assert f"tampered: chain {chain}: entries 3 to 5 deleted or rewritten" in result.output
    assert "the database ends at entry 4" in result.output
    assert result.output.count("in the store but not in the database") == 2
    assert "journal intact." not in result.output


def test_checkpoint_refuses_to_anchor_a_journal_cut_since_the_last_one(
    app: Flask, session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    chain = record(session, clock, foyer, 3)
    run(app, "checkpoint")
    cut_and_rehash(session, chain, 2)
    clock.advance(timedelta(hours=1))

    result = run(app, "checkpoint")

    assert result.exit_code == 1
    assert result.output.startswith(f"tampered: chain {chain}: entries 1 to 3 deleted")
    assert "the journal no longer matches its last checkpoint" in result.output


def test_verify_reports_the_entries_since_the_last_checkpoint(
    app: Flask, session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    record(session, clock, foyer, 2)
    run(app, "checkpoint")
    record(session, clock, foyer, 3)

    result = run(app, "verify")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(ANCHOR_LINE + "2026-09-01 ")
    assert lines[0].endswith(".json).") and "1 chains, not timestamped" in lines[0]
    assert lines[1].startswith("not yet anchored: 3 entries since 2026-09-01 ")
    assert lines[2] == "journal intact."


def test_an_auditor_verifies_with_the_public_key_only_and_cannot_sign(
    app: Flask,
    settings: Settings,
    sessions: sessionmaker[Session],
    session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    tmp_path: Path,
) -> None:
    record(session, clock, foyer, 2)
    run(app, "checkpoint")
    public_key = tmp_path / "journal.pub"
    public_key.write_text(run(app, "public-key").output)
    audit_settings = dataclasses.replace(
        settings, journal_key_file=None, journal_public_key_file=public_key
    )
    auditor = app_with(audit_settings, sessions, clock)

    verified = run(auditor, "verify")
    refused = run(auditor, "checkpoint")

    assert verified.exit_code == 0, verified.output
    assert verified.output.endswith("journal intact.\n")
    assert refused.exit_code == 1
    assert "JOURNAL_KEY_FILE is not set" in refused.output
    runtime(auditor).engine.dispose()


def test_a_checkpoint_signed_by_another_key_is_reported(
    app: Flask,
    settings: Settings,
    sessions: sessionmaker[Session],
    session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    tmp_path: Path,
) -> None:
    record(session, clock, foyer, 1)
    other_key = dataclasses.replace(settings, journal_key_file=tmp_path / "other.key")
    create_signing_key_file(tmp_path / "other.key")
    forger = app_with(other_key, sessions, clock)
    run(forger, "checkpoint")

    result = run(app, "verify")

    assert result.exit_code == 1
    assert result.output.startswith("forged: checkpoint journal-checkpoints/")
    assert ": signed by key " in result.output
    runtime(forger).engine.dispose()


def test_checkpoints_are_timestamped_when_a_tsa_is_configured(
    settings: Settings,
    sessions: sessionmaker[Session],
    session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    tsa: LoopbackTsa,  # noqa: F811
) -> None:
    record(session, clock, foyer, 1)
    timestamped = dataclasses.replace(settings, tsa_url=tsa.url, tsa_ca_file=tsa.ca_file)
    app = app_with(timestamped, sessions, clock)

    written = run(app, "checkpoint")
    verified = run(app, "verify")

    assert written.exit_code == 0, written.output
    assert "1 chains, timestamped." in written.output
    assert verified.exit_code == 0, verified.output
    assert "1 chains, timestamped " in verified.output
    assert len(tsa.requests) == 1
    runtime(app).engine.dispose()


def test_the_worker_checkpoints_the_journal_every_hour_it_moved(
    app: Flask, rt: Runtime, session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    worker = Worker(sessions=rt.sessions, clock=clock, name="checkpoints")
    register_standard_jobs(
        worker, rt.vault, None, "https://portail.test", anchoring_from(rt.settings, rt.store)
    )
    record(session, clock, foyer, 2)

    worker.tick(clock.now())
    clock.advance(timedelta(hours=1))
    worker.tick(clock.now())  # nothing moved: no new checkpoint
    record(session, clock, foyer, 1)
    clock.advance(timedelta(hours=1))
    worker.tick(clock.now())

    assert len(stored_keys(rt.store)) == 2
    assert run(app, "verify").output.endswith("journal intact.\n")
