"""The hash-chained journal: every vault operation is recorded, ids only, and tampering shows."""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import Executable, delete, select, update
from sqlalchemy.orm import Session

from coffre import consent, keys, review
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, DemandeRef, FamilyReader
from coffre.journal import chain as journal
from coffre.keyring import KEY_BYTES, Keyring
from coffre.models import Foyer, JournalEntry, JournalHead
from coffre.portability.export import export_chunks
from coffre.review import RefusalReason
from coffre.upkeep.maintenance import expire_documents
from coffre.vault import Vault
from tests.coffre.conftest import deposit, pdf_of

pytestmark = pytest.mark.usefixtures("db_session")

CRECHE, DEMANDE = 10, 500
FIRST_NAME = "Gwendoline"
FILE_NAME = "quittance-loyer-rochefort.pdf"


def events(session: Session, chain: str) -> list[str]:
    return [entry.event for entry in journal.entries(session, chain)]


def tamper(session: Session, statement: Executable) -> None:
    """Change the journal behind the service's back, then forget what the session holds."""
    session.execute(statement)
    session.expire_all()


def entry_id(session: Session, chain: str, seq: int) -> int:
    found = session.scalar(
        select(JournalEntry.id).where(JournalEntry.chain == chain, JournalEntry.seq == seq)
    )
    assert found is not None
    return found


def run_every_operation(vault: Vault, session: Session, clock: FrozenClock, foyer: Foyer) -> None:
    """Deposit, read, grant, validate, refuse, revoke, replace, expire, export, rotate,
    delete and shred, with a member's first name and a file name that must not leak."""
    member = foyer.members[0]
    member.first_name = FIRST_NAME
    session.commit()
    agent = AgentReader(account_id=7, service_ids=frozenset({CRECHE}))
    demande = DemandeRef(DEMANDE, foyer.id, is_open=True)
    consent.open_access(session, clock, DEMANDE, CRECHE)

    named = deposit(vault, session, foyer, pdf_of(1000), filename=FILE_NAME, member_id=member.id)
    assert named.original_name == FILE_NAME  # the name is in the vault, so it could leak
    b"".join(vault.open(session, FamilyReader(3, foyer.id), named.id).chunks)
    consent.grant(session, clock, 3, named, demande)
    session.commit()
    review.validate(session, clock, agent, named.id, DEMANDE)

    blurred = deposit(vault, session, foyer, pdf_of(2000))
    consent.grant(session, clock, 3, blurred, demande)
    session.commit()
    review.refuse(session, clock, agent, blurred.id, DEMANDE, RefusalReason.ILLISIBLE, FIRST_NAME)
    consent.revoke(session, clock, 3, blurred, demande)
    session.commit()
    clearer = deposit(vault, session, foyer, pdf_of(3000), replaces_id=blurred.id)

    deposit(vault, session, foyer, pdf_of(4000), issued_on=date(2026, 5, 1))
    clock.advance(timedelta(days=1))
    assert expire_documents(session, clock).expired != []
    b"".join(export_chunks(session, vault, FamilyReader(3, foyer.id)))

    newer = Keyring(keys=vault.keyring.keys | {2: secrets.token_bytes(KEY_BYTES)}, source="t")
    keys.rotate_kek(session, newer, clock)
    vault.keyring = newer
    vault.delete_document(session, foyer.id, clearer.id, actor_id=3)
    vault.shred_foyer(session, foyer.id, actor_id=1)


def test_every_vault_operation_is_journaled(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    run_every_operation(vault, db_session, clock, foyer)

    assert set(events(db_session, journal.chain_of(foyer.id))) == {
        "key.created",
        "document.deposited",
        "document.read",
        "consent.granted",
        "document.validated",
        "document.refused",
        "consent.revoked",
        "document.replaced",
        "document.expired",
        "foyer.exported",
        "document.deleted",
        "foyer.shredded",
    }
    assert events(db_session, journal.SYSTEM_CHAIN) == ["key.rotated"]
    assert journal.verify(db_session) == []


def test_journal_holds_ids_never_names(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    run_every_operation(vault, db_session, clock, foyer)

    written = db_session.scalars(select(JournalEntry)).all()
    assert len(written) > 12
    for entry in written:
        everything = json.dumps(journal.entry_fields(entry))
        for secret in (FIRST_NAME, FILE_NAME, "quittance", "Martin"):
            assert secret not in entry.details, (entry.event, entry.details)
            assert secret not in everything, (entry.event, everything)


def test_reads_and_verdicts_name_the_demande_and_actor(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    run_every_operation(vault, db_session, clock, foyer)

    chain = journal.chain_of(foyer.id)
    by_event = {
        entry.event: (entry.actor_id, entry.demande_id, json.loads(entry.details))
        for entry in journal.entries(db_session, chain)
        if entry.event in {"document.read", "document.validated", "document.refused"}
    }
    assert by_event == {
        "document.read": (3, None, {"purpose": "download", "service": None}),
        "document.validated": (7, DEMANDE, {}),
        "document.refused": (7, DEMANDE, {"reason": "illisible"}),  # not the agent's comment
    }


@pytest.fixture
def chain(vault: Vault, db_session: Session, foyer: Foyer) -> str:
    """A foyer chain of five entries: key, deposit, read, deposit, read."""
    for size in (1000, 2000):
        document = deposit(vault, db_session, foyer, pdf_of(size))
        b"".join(vault.open(db_session, FamilyReader(None, foyer.id), document.id).chunks)
    name = journal.chain_of(foyer.id)
    assert [e.seq for e in journal.entries(db_session, name)] == [1, 2, 3, 4, 5]
    return name


def test_intact_journal_verifies_clean(db_session: Session, chain: str) -> None:
    db_session.expire_all()  # verify what was stored, not what the session remembers

    assert journal.verify(db_session) == []
    assert journal.verify(db_session, [chain]) == []


@pytest.mark.parametrize(
    "change",
    [{"event": "document.deleted"}, {"details": '{"purpose":"print","service":null}'}],
    ids=["event", "details"],
)
def test_modified_entry_is_named(db_session: Session, chain: str, change: dict[str, str]) -> None:
    target = entry_id(db_session, chain, 3)
    tamper(db_session, update(JournalEntry).where(JournalEntry.id == target).values(**change))

    [problem] = journal.verify(db_session)

    assert (problem.chain, problem.seq, problem.entry_id) == (chain, 3, target)
    assert problem.reason == "modified"
    assert str(problem) == f"chain {chain}: entry 3 (id {target}): modified"


def test_only_the_first_of_several_broken_entries_is_reported(
    db_session: Session, chain: str
) -> None:
    for seq in (4, 2):
        target = entry_id(db_session, chain, seq)
        tamper(db_session, update(JournalEntry).where(JournalEntry.id == target).values(actor_id=9))

    [problem] = journal.verify(db_session)

    assert (problem.seq, problem.reason) == (2, "modified")


def test_rehashed_entry_breaks_the_link_to_the_next(db_session: Session, chain: str) -> None:
    target = db_session.get_one(JournalEntry, entry_id(db_session, chain, 2))
    target.event = "document.read"
    target.hash = journal.entry_hash(target)  # a forger recomputes the entry's own hash
    db_session.flush()
    db_session.expire_all()

    [problem] = journal.verify(db_session)

    assert (problem.seq, problem.reason) == (3, "does not follow the previous entry")


def test_entry_deleted_in_the_middle_is_named(db_session: Session, chain: str) -> None:
    tamper(
        db_session, delete(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq == 3)
    )

    [problem] = journal.verify(db_session)

    assert (problem.chain, problem.seq, problem.entry_id) == (chain, 3, None)
    assert "deleted" in problem.reason


def test_entries_deleted_at_the_end_are_named(db_session: Session, chain: str) -> None:
    tamper(
        db_session, delete(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq >= 4)
    )

    [problem] = journal.verify(db_session)

    assert (problem.chain, problem.seq) == (chain, 4)
    assert problem.reason == "entries missing at the end (deleted)"


def test_last_entry_deleted_with_its_head_is_detected(db_session: Session, chain: str) -> None:
    tamper(
        db_session, delete(JournalEntry).where(JournalEntry.chain == chain, JournalEntry.seq == 5)
    )
    tamper(db_session, delete(JournalHead).where(JournalHead.chain == chain))

    [problem] = journal.verify(db_session)

    assert (problem.chain, problem.seq) == (chain, 4)
    assert problem.reason == "chain has no head"


def test_swapped_entries_are_named(db_session: Session, chain: str) -> None:
    second, third = entry_id(db_session, chain, 2), entry_id(db_session, chain, 3)
    # (chain, seq) is unique: move one aside first, as a forger would have to.
    for target, seq in ((second, -1), (third, 2), (second, 3)):
        tamper(db_session, update(JournalEntry).where(JournalEntry.id == target).values(seq=seq))

    [problem] = journal.verify(db_session)

    assert (problem.chain, problem.seq, problem.entry_id) == (chain, 2, third)
    assert problem.reason == "does not follow the previous entry"


def test_chains_of_two_foyers_are_independent(
    vault: Vault, db_session: Session, chain: str, other_foyer: Foyer
) -> None:
    deposit(vault, db_session, other_foyer, pdf_of(1500))
    other = journal.chain_of(other_foyer.id)
    assert [e.seq for e in journal.entries(db_session, other)] == [1, 2]
    target = entry_id(db_session, chain, 2)
    tamper(db_session, update(JournalEntry).where(JournalEntry.id == target).values(document_id=0))

    assert [p.chain for p in journal.verify(db_session)] == [chain]
    assert journal.verify(db_session, [other]) == []


def test_appending_after_a_read_continues_the_same_chain(
    vault: Vault, db_session: Session, chain: str, foyer: Foyer
) -> None:
    deposit(vault, db_session, foyer, pdf_of(2500))
    db_session.expire_all()

    written = list(journal.entries(db_session, chain))
    assert [e.seq for e in written] == [1, 2, 3, 4, 5, 6]
    assert written[-1].prev_hash == written[-2].hash
    assert written[0].prev_hash == journal.GENESIS
    assert journal.verify(db_session) == []
