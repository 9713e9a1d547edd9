"""The antivirus: every deposit scanned by a real clamd in the worker's job, before agents
may open it; an infected one quarantined for everyone."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from coffre import consent
from coffre.antivirus import ClamdScanner, DocumentQuarantined, ScanPending
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, DemandeRef, FamilyReader
from coffre.keyring import Keyring
from coffre.models import Document, Foyer, JournalEntry, ScanState
from coffre.upkeep import scanning
from coffre.vault import Vault
from stockage import ObjectStore
from tests.clamav import EICAR_SIGNATURE, FILE_SIGNATURE, FLAGGED_PDF, INFECTED_PDF, ClamdServer
from tests.coffre.conftest import deposit, make_foyer, pdf_of

CRECHE, DEMANDE = 10, 500
AGENT = AgentReader(account_id=7, service_ids=frozenset({CRECHE}))


@pytest.fixture
def scanning_vault(vault: Vault, scanner: ClamdScanner) -> Vault:
    return dataclasses.replace(vault, scanner=scanner)


def granted(session: Session, clock: FrozenClock, document: Document) -> Document:
    """The document granted to a demande the agent's service handles."""
    consent.open_access(session, clock, DEMANDE, CRECHE)
    demande = DemandeRef(id=DEMANDE, foyer_id=document.foyer_id, is_open=True)
    consent.grant(session, clock, 1, document, demande)
    session.commit()
    return document


def scan_events(session: Session, document: Document) -> list[str]:
    entries = session.scalars(
        select(JournalEntry).where(
            JournalEntry.document_id == document.id, JournalEntry.event == "document.scanned"
        )
    )
    return [entry.details for entry in entries]


def test_a_clean_deposit_opens_to_agents_once_the_worker_scanned_it(
    scanning_vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    document = granted(db_session, clock, deposit(scanning_vault, db_session, foyer, pdf_of(5000)))
    assert document.scan_state is ScanState.PENDING
    with pytest.raises(ScanPending):
        scanning_vault.open(db_session, AGENT, document.id, DEMANDE)
    family = FamilyReader(account_id=None, foyer_id=foyer.id)
    assert b"".join(scanning_vault.open(db_session, family, document.id).chunks) == pdf_of(5000)

    assert scanning.scan_pending(db_session, scanning_vault, scanning_vault.scanner) == 1  # type: ignore[arg-type]

    db_session.refresh(document)
    assert (document.scan_state, document.scanned_at) == (ScanState.CLEAN, clock.now())
    opened = scanning_vault.open(db_session, AGENT, document.id, DEMANDE)
    assert b"".join(opened.chunks) == pdf_of(5000)
    assert scan_events(db_session, document) == ['{"result":"clean"}']


@pytest.mark.parametrize(
    ("content", "signature"),
    [(INFECTED_PDF, EICAR_SIGNATURE), (FLAGGED_PDF, FILE_SIGNATURE)],
    ids=["eicar", "custom-signature"],
)
def test_an_infected_deposit_is_quarantined_for_agents_and_family(
    scanning_vault: Vault,
    scanner: ClamdScanner,
    store: ObjectStore,
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    content: bytes,
    signature: str,
) -> None:
    document = granted(db_session, clock, deposit(scanning_vault, db_session, foyer, content))
    told: list[int] = []

    judged = scanning.scan_pending(
        db_session, scanning_vault, scanner, lambda _s, d: told.append(d.id)
    )

    db_session.refresh(document)
    assert (judged, told, document.scan_state) == (1, [document.id], ScanState.INFECTED)
    assert not store.exists(document.blob_key)  # its content is gone, its record stays
    with pytest.raises(DocumentQuarantined):
        scanning_vault.open(db_session, AGENT, document.id, DEMANDE)
    with pytest.raises(DocumentQuarantined):
        scanning_vault.open(db_session, FamilyReader(None, foyer.id), document.id)
    [details] = scan_events(db_session, document)
    assert '"result":"infected"' in details
    assert f'"signature":"{signature}.UNOFFICIAL"' in details  # a name, nothing of the file


def test_without_a_scanner_deposits_are_not_scanned_and_open_at_once(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer
) -> None:
    document = granted(db_session, clock, deposit(vault, db_session, foyer, INFECTED_PDF))

    assert document.scan_state is ScanState.NOT_SCANNED
    assert b"".join(vault.open(db_session, AGENT, document.id, DEMANDE).chunks) == INFECTED_PDF


def test_an_absent_scanner_leaves_the_document_pending_for_the_next_turn(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, clamd: ClamdServer
) -> None:
    away = ClamdScanner(clamd.directory / "absent.sock")
    absent_vault = dataclasses.replace(vault, scanner=away)
    document = deposit(absent_vault, db_session, foyer)

    assert scanning.scan_pending(db_session, absent_vault, away) == 0

    db_session.refresh(document)
    assert (document.scan_state, document.scanned_at) == (ScanState.PENDING, clock.now())
    assert scan_events(db_session, document) == []


@pytest.mark.postgres
def test_two_workers_never_scan_the_same_document(
    postgres_database: Engine,
    store: ObjectStore,
    keyring: Keyring,
    clock: FrozenClock,
    scanner: ClamdScanner,
) -> None:
    sessions = sessionmaker(postgres_database, expire_on_commit=False)
    vault = Vault(store=store, keyring=keyring, clock=clock, scanner=scanner)
    with sessions() as session:
        foyer = make_foyer(session, clock)
        first, second = (deposit(vault, session, foyer, pdf_of(n)) for n in (4100, 4200))
    with sessions() as one, sessions() as other:
        held = one.scalar(scanning._next_pending())  # the first worker holds the oldest
        assert held is not None and held.id == first.id

        assert scanning.scan_pending(other, vault, scanner) == 1  # the other one skips it
        one.rollback()
        assert scanning.scan_pending(one, vault, scanner) == 1
    with sessions() as session:
        for document in (first, second):
            assert len(scan_events(session, document)) == 1


def test_documents_deposited_without_a_scanner_are_scanned_once_one_is_oldest_first(
    vault: Vault,
    scanner: ClamdScanner,
    store: ObjectStore,
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
) -> None:
    infected, clean, last = (
        granted(db_session, clock, deposit(vault, db_session, foyer, content))
        for content in (INFECTED_PDF, pdf_of(4300), pdf_of(4400))
    )
    told: list[int] = []

    first = scanning.rescan_not_scanned(
        db_session, vault, scanner, lambda _s, d: told.append(d.id), batch=2
    )

    assert first == scanning.Turn(judged=2, emptied=False)
    for document in (infected, clean, last):
        db_session.refresh(document)
    assert (infected.scan_state, clean.scan_state) == (ScanState.INFECTED, ScanState.CLEAN)
    assert told == [infected.id] and not store.exists(infected.blob_key)
    [details] = scan_events(db_session, infected)
    assert '"deposited_unscanned":true' in details
    # The one not scanned yet stays open to the agent, as before the scanner came.
    assert last.scan_state is ScanState.NOT_SCANNED
    assert b"".join(vault.open(db_session, AGENT, last.id, DEMANDE).chunks) == pdf_of(4400)

    assert scanning.rescan_not_scanned(db_session, vault, scanner) == scanning.Turn(1, True)
    db_session.refresh(last)
    assert last.scan_state is ScanState.CLEAN
    assert db_session.scalars(scanning.not_scanned()).all() == []


def test_an_absent_scanner_leaves_documents_not_scanned_and_open(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, clamd: ClamdServer
) -> None:
    document = granted(db_session, clock, deposit(vault, db_session, foyer, pdf_of(4500)))
    away = ClamdScanner(clamd.directory / "absent.sock")

    assert scanning.rescan_not_scanned(db_session, vault, away) == scanning.Turn(0, False)

    db_session.refresh(document)
    assert (document.scan_state, document.scanned_at) == (ScanState.NOT_SCANNED, clock.now())
    assert b"".join(vault.open(db_session, AGENT, document.id, DEMANDE).chunks) == pdf_of(4500)
