"""Signed checkpoints anchor the journal outside the database: a cut and re-hashed chain shows."""

from __future__ import annotations

import io
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.journal import chain as journal
from coffre.journal.anchoring import Anchoring, JournalTampered, write_checkpoint
from coffre.journal.audit import Auditor, AuditReport, audit
from coffre.journal.checkpoints import Checkpoint, Head, read_checkpoint, stored_keys
from coffre.journal.signing_key import (
    JournalKeyError,
    create_signing_key_file,
    load_public_key,
    load_signing_key,
    public_key_pem,
)
from coffre.models import Foyer, JournalCheckpoint, JournalEntry, JournalHead
from stockage import FilesystemStore

pytestmark = pytest.mark.usefixtures("db_session")


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def anchoring(store: FilesystemStore, signing_key: Ed25519PrivateKey) -> Anchoring:
    return Anchoring(store=store, signing_key=signing_key)


@pytest.fixture
def auditor(store: FilesystemStore, signing_key: Ed25519PrivateKey) -> Auditor:
    return Auditor(store=store, public_key=signing_key.public_key())


def add_entries(session: Session, clock: FrozenClock, foyer: Foyer, count: int) -> str:
    for _ in range(count):
        clock.advance(timedelta(minutes=1))
        journal.record(session, clock, "document.read", foyer_id=foyer.id, actor_id=3)
    session.commit()
    return journal.chain_of(foyer.id)


def checkpoint(session: Session, clock: FrozenClock, anchoring: Anchoring) -> Checkpoint:
    clock.advance(timedelta(hours=1))
    written = write_checkpoint(session, clock, anchoring)
    assert written is not None
    return written.checkpoint


def cut_and_rehash(session: Session, chain: str, seq: int) -> None:
    """What an attacker with write access to the database does: delete one entry, renumber
    and re-hash every later one with the journal's own function, and move the head, so that
    the chain is consistent again."""
    session.execute(
        delete(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq == seq)
    )
    before = session.scalar(
        select(JournalEntry.hash).where(JournalEntry.chain == chain, JournalEntry.seq == seq - 1)
    )
    previous = before or journal.GENESIS
    later = select(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq > seq)
    for entry in session.scalars(later.order_by(JournalEntry.seq)).all():
        entry.seq, entry.prev_hash = entry.seq - 1, previous
        entry.hash = previous = journal.entry_hash(entry)
        session.flush()
    last = session.scalar(
        select(JournalEntry.seq)
        .where(JournalEntry.chain == chain)
        .order_by(JournalEntry.seq.desc())
    )
    session.execute(
        update(JournalHead).where(JournalHead.chain == chain).values(seq=last, hash=previous)
    )
    session.commit()
    session.expire_all()


def tampered(report: AuditReport) -> list[str]:
    return [str(problem) for problem in report.problems if problem.kind == "tampered"]


def test_an_intact_journal_matches_its_checkpoint(
    db_session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring, auditor: Auditor
) -> None:
    add_entries(db_session, clock, foyer, 3)
    written = checkpoint(db_session, clock, anchoring)

    report = audit(db_session, auditor)

    assert report.intact, report.problems
    assert report.checkpoint == written
    assert report.unanchored == 0
    assert written.heads[journal.chain_of(foyer.id)].seq == 3


def test_entries_after_the_last_checkpoint_are_reported_as_not_anchored(
    db_session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring, auditor: Auditor
) -> None:
    add_entries(db_session, clock, foyer, 2)
    checkpoint(db_session, clock, anchoring)
    add_entries(db_session, clock, foyer, 3)
    journal.record(db_session, clock, "key.rotated")  # a chain the checkpoint does not know
    db_session.commit()

    report = audit(db_session, auditor)

    assert report.intact
    assert report.unanchored == 4


def test_a_cut_and_rehashed_chain_is_named_against_the_checkpoints(
    db_session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring, auditor: Auditor
) -> None:
    chain = add_entries(db_session, clock, foyer, 2)
    first = checkpoint(db_session, clock, anchoring)
    add_entries(db_session, clock, foyer, 3)
    last = checkpoint(db_session, clock, anchoring)

    cut_and_rehash(db_session, chain, 3)

    assert journal.verify(db_session) == []  # the chain alone is fooled: the reason for anchors
    report = audit(db_session, auditor)
    assert not report.intact
    assert tampered(report) == [
        f"tampered: chain {chain}: entries 3 to 5 deleted or rewritten: the checkpoint of "
        f"{last.at:%Y-%m-%d %H:%M:%S} UTC anchors entry 5, the database ends at entry 4; "
        f"entry 2 still matches the checkpoint of {first.at:%Y-%m-%d %H:%M:%S} UTC"
    ]


def test_deleting_the_database_copies_does_not_hide_the_tampering(
    db_session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring, auditor: Auditor
) -> None:
    chain = add_entries(db_session, clock, foyer, 4)
    written = checkpoint(db_session, clock, anchoring)
    cut_and_rehash(db_session, chain, 2)
    db_session.execute(delete(JournalCheckpoint))
    db_session.commit()

    report = audit(db_session, auditor)

    assert [problem.kind for problem in report.problems] == ["missing", "tampered"]
    assert str(report.problems[0]) == (
        f"missing: checkpoint {written.key}: in the store but not in the database "
        "(deleted there, or its commit failed)"
    )
    assert f"chain {chain}: entries 1 to 4 deleted or rewritten" in tampered(report)[0]


def test_a_tampered_journal_is_never_anchored_by_a_later_checkpoint(
    db_session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring, auditor: Auditor
) -> None:
    chain = add_entries(db_session, clock, foyer, 3)
    checkpoint(db_session, clock, anchoring)
    cut_and_rehash(db_session, chain, 2)
    clock.advance(timedelta(hours=1))

    with pytest.raises(JournalTampered) as refused:
        write_checkpoint(db_session, clock, anchoring, skip_unchanged=True)

    db_session.rollback()
    assert f"tampered: chain {chain}: entries 1 to 3 deleted or rewritten" in str(refused.value)
    assert len(stored_keys(anchoring.store)) == 1  # the forged state stays unanchored
    assert tampered(audit(db_session, auditor))


def test_a_rewritten_entry_kept_at_its_place_is_named(
    db_session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring, auditor: Auditor
) -> None:
    chain = add_entries(db_session, clock, foyer, 3)
    checkpoint(db_session, clock, anchoring)
    entry = db_session.scalars(
        select(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq == 3)
    ).one()
    entry.actor_id = 99
    entry.hash = journal.entry_hash(entry)
    db_session.execute(
        update(JournalHead).where(JournalHead.chain == chain).values(hash=entry.hash)
    )
    db_session.commit()

    [problem] = audit(db_session, auditor).problems

    assert "entries 1 to 3 deleted or rewritten" in str(problem)
    assert "the database holds another entry 3" in str(problem)


def test_a_forged_checkpoint_is_reported_and_an_older_valid_one_used(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    store: FilesystemStore,
    anchoring: Anchoring,
    auditor: Auditor,
) -> None:
    chain = add_entries(db_session, clock, foyer, 3)
    genuine = checkpoint(db_session, clock, anchoring)
    cut_and_rehash(db_session, chain, 3)
    # The attacker writes a checkpoint of the forged state with a key of their own.
    forger = Anchoring(store=store, signing_key=Ed25519PrivateKey.generate())
    forged = checkpoint(db_session, clock, forger)
    # ... and one that keeps the journal key's id but changes the heads after signing.
    document = json.loads(store.open(genuine.key).read())
    document["payload"] = document["payload"].replace('"seq":3', '"seq":2')
    altered = genuine.key.replace(".json", "-copy.json").replace("T0", "T9")
    store.put(altered, io.BytesIO(json.dumps(document).encode()))
    db_session.add(
        JournalCheckpoint(
            at=clock.now(), store_key=altered, digest="0" * 64, payload="{}", signature=""
        )
    )
    db_session.commit()

    report = audit(db_session, auditor)

    problems = [str(problem) for problem in report.problems]
    assert f"forged: checkpoint {altered}: bad signature" in problems
    assert any(p.startswith(f"forged: checkpoint {forged.key}: signed by key ") for p in problems)
    assert report.checkpoint == genuine
    assert f"chain {chain}: entries 1 to 3 deleted or rewritten" in tampered(report)[0]


def test_a_checkpoint_is_written_once_to_the_store_and_listed_in_the_database(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    store: FilesystemStore,
    anchoring: Anchoring,
    signing_key: Ed25519PrivateKey,
) -> None:
    chain = add_entries(db_session, clock, foyer, 2)
    written = checkpoint(db_session, clock, anchoring)

    assert stored_keys(store) == [written.key]
    assert written.key.startswith("journal-checkpoints/20260901T")
    stored = read_checkpoint(store, written.key)
    signing_key.public_key().verify(stored.signature, stored.payload)
    head = db_session.get_one(JournalHead, chain)
    assert stored.heads == {chain: Head(head.seq, head.hash)}
    row = db_session.scalars(select(JournalCheckpoint)).one()
    assert (row.store_key, row.digest) == (written.key, stored.digest)


def test_the_hourly_job_skips_a_journal_that_did_not_move(
    db_session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring
) -> None:
    assert write_checkpoint(db_session, clock, anchoring, skip_unchanged=True) is None
    add_entries(db_session, clock, foyer, 1)

    assert write_checkpoint(db_session, clock, anchoring, skip_unchanged=True) is not None
    clock.advance(timedelta(hours=1))
    assert write_checkpoint(db_session, clock, anchoring, skip_unchanged=True) is None


def test_the_signing_key_file_is_private_and_its_public_half_can_be_handed_out(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.key"
    assert create_signing_key_file(path)
    assert not create_signing_key_file(path)  # never over an existing key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_signing_key(path)
    public = tmp_path / "journal.pub"
    public.write_text(public_key_pem(key.public_key()))

    assert load_public_key(public) == key.public_key()
    path.chmod(0o644)
    with pytest.raises(JournalKeyError, match="chmod 600"):
        load_signing_key(path)
    with pytest.raises(JournalKeyError, match="not a PEM private key"):
        public.chmod(0o600)
        load_signing_key(public)
