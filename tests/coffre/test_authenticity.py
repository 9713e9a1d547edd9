"""The worker's 2D-Doc job: each deposit read through the vault, its 2D-Doc recorded on it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coffre.clock import FrozenClock
from coffre.inspection.two_d_doc import TrustList, load_trust_list
from coffre.models import Document, Foyer, JournalEntry, ScanState, TwoDDocState
from coffre.upkeep import authenticity
from coffre.vault import Vault
from stockage import ObjectStore
from tests.coffre.conftest import deposit
from tests.two_d_doc import NOTICE_FIELDS, make_authority, message, own_authority, pdf, png, sign
from worker.jobs import register_standard_jobs
from worker.loop import Worker


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> TrustList:
    return load_trust_list(own_authority().write(tmp_path_factory.mktemp("trust")))


def notice(vault: Vault, session: Session, foyer: Foyer, content: bytes, name: str) -> Document:
    return deposit(vault, session, foyer, content, type_code="avis_imposition", filename=name)


def events(session: Session, document: Document) -> list[str]:
    entries = session.scalars(
        select(JournalEntry).where(
            JournalEntry.document_id == document.id,
            JournalEntry.event == "document.two_d_doc_read",
        )
    )
    return [entry.details for entry in entries]


def test_a_signed_notice_is_recorded_valid_with_its_fields(
    vault: Vault, db_session: Session, foyer: Foyer, trust: TrustList
) -> None:
    document = notice(vault, db_session, foyer, pdf(sign(message(), own_authority().key)), "a.pdf")
    assert document.two_d_doc_state is TwoDDocState.PENDING

    assert authenticity.read_pending(db_session, vault, trust) == 1

    db_session.refresh(document)
    assert document.two_d_doc_state is TwoDDocState.VALID
    stored = json.loads(document.two_d_doc_fields or "")
    assert (stored["authority"], stored["issued_on"]) == ("FR00", "2026-07-31")
    assert ["41", "rfr", "Revenu fiscal de référence", "23456"] in stored["fields"]
    assert events(db_session, document) == ['{"result":"valid"}']  # no field in the journal
    shown = authenticity.shown(document)
    assert shown is not None and shown.valid and shown.quotient == 782  # 23456 / 12 / 2.5
    assert ("Déclarant 1", "MARTIN CLAIRE") in shown.fields
    assert authenticity.read_pending(db_session, vault, trust) == 0  # read once


def test_a_type_no_issuer_prints_a_2d_doc_on_is_not_read(
    vault: Vault, db_session: Session, foyer: Foyer, trust: TrustList
) -> None:
    content = pdf(sign(message(), own_authority().key))
    booklet = deposit(vault, db_session, foyer, content, type_code="carnet_vaccination")

    assert authenticity.read_pending(db_session, vault, trust) == 1

    db_session.refresh(booklet)
    assert booklet.two_d_doc_state is TwoDDocState.NONE and booklet.two_d_doc_fields is None
    assert events(db_session, booklet) == []


def test_an_altered_notice_is_recorded_invalid_with_the_reason_only(
    vault: Vault, db_session: Session, foyer: Foyer, trust: TrustList
) -> None:
    forged = sign(message(), make_authority().key).replace("23456", "3456")
    document = notice(vault, db_session, foyer, png(forged), "avis.png")

    authenticity.read_pending(db_session, vault, trust)

    db_session.refresh(document)
    assert document.two_d_doc_state is TwoDDocState.INVALID
    assert json.loads(document.two_d_doc_fields or "") == {"problem": "signature"}
    shown = authenticity.shown(document)
    assert shown is not None and not shown.valid and shown.problem == "signature"
    assert shown.fields == () and shown.quotient is None
    assert events(db_session, document) == ['{"result":"invalid"}']


def test_a_document_without_2d_doc_shows_nothing(
    vault: Vault, db_session: Session, foyer: Foyer, trust: TrustList
) -> None:
    document = notice(vault, db_session, foyer, pdf(None), "avis.pdf")
    assert authenticity.shown(document) is None  # pending: nothing yet either

    authenticity.read_pending(db_session, vault, trust)

    db_session.refresh(document)
    assert (document.two_d_doc_state, document.two_d_doc_fields) == (TwoDDocState.NONE, None)
    assert authenticity.shown(document) is None and events(db_session, document) == []


def test_newest_deposits_first_and_a_damaged_one_does_not_stall_the_queue(
    vault: Vault, store: ObjectStore, db_session: Session, foyer: Foyer, trust: TrustList
) -> None:
    signed = pdf(sign(message(), own_authority().key))
    older = notice(vault, db_session, foyer, signed, "ancien.pdf")
    damaged = notice(vault, db_session, foyer, signed, "abime.pdf")
    store.delete(damaged.blob_key)

    assert authenticity.read_pending(db_session, vault, trust, batch=1) == 1

    db_session.refresh(damaged)
    db_session.refresh(older)
    assert damaged.two_d_doc_state is TwoDDocState.NONE
    assert older.two_d_doc_state is TwoDDocState.PENDING
    assert authenticity.read_pending(db_session, vault, trust) == 1
    db_session.refresh(older)
    assert older.two_d_doc_state is TwoDDocState.VALID


def test_a_document_waiting_for_the_antivirus_is_read_after_its_scan(
    vault: Vault, db_session: Session, foyer: Foyer, trust: TrustList
) -> None:
    document = notice(vault, db_session, foyer, pdf(sign(message(), own_authority().key)), "a.pdf")
    document.scan_state = ScanState.PENDING
    db_session.commit()

    assert authenticity.read_pending(db_session, vault, trust) == 0

    document.scan_state = ScanState.CLEAN
    db_session.commit()
    assert authenticity.read_pending(db_session, vault, trust) == 1
    db_session.refresh(document)
    assert document.two_d_doc_state is TwoDDocState.VALID


def test_the_worker_reads_2d_docs_when_given_a_trust_list(
    vault: Vault, clock: FrozenClock, trust: TrustList
) -> None:
    def jobs(two_d_doc: TrustList | None) -> set[str]:
        worker = Worker(sessions=sessionmaker(), clock=clock)
        register_standard_jobs(worker, vault, None, "https://portail.example", two_d_doc=two_d_doc)
        return {job.name for job in worker.jobs}

    assert "two-d-doc" in jobs(trust)
    assert "two-d-doc" not in jobs(None)


@pytest.mark.parametrize(
    ("income", "shares", "quotient"),
    [("23456", "2.5", 782), ("30 000", "2,5", 1000), ("12000", "0", None), ("abc", "1", None)],
)
def test_the_quotient_a_notice_gives(income: str, shares: str, quotient: int | None) -> None:
    assert authenticity.monthly_quotient(income, shares) == quotient


def test_a_field_the_issuer_truncated_is_shown_as_truncated(
    vault: Vault, db_session: Session, foyer: Foyer, trust: TrustList
) -> None:
    signed = message(NOTICE_FIELDS | {"46": "MARTIN-DUPONT DE LA"}, truncated=frozenset({"46"}))
    document = notice(vault, db_session, foyer, pdf(sign(signed, own_authority().key)), "a.pdf")

    assert authenticity.read_pending(db_session, vault, trust) == 1

    db_session.refresh(document)
    assert json.loads(document.two_d_doc_fields or "")["truncated"] == ["46"]
    shown = authenticity.shown(document)
    assert shown is not None and shown.valid and shown.quotient == 782
    assert ("Déclarant 1 (tronqué par l'émetteur)", "MARTIN-DUPONT DE LA") in shown.fields
    assert ("Année des revenus", "2025") in shown.fields
