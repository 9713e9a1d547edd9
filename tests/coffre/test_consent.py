"""Consent per demande and the one access check: who may read which document, and the log."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from coffre import consent
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, DemandeRef, FamilyReader
from coffre.errors import AccessDenied, ConsentError, DocumentAlreadyUsed, DocumentNotFound
from coffre.journal import chain as journal
from coffre.models import Document, Foyer, Grant
from coffre.vault import Vault
from tests.coffre.conftest import deposit, pdf_of

CRECHE, ECOLES = 10, 20
DEMANDE = 500


@pytest.fixture
def document(vault: Vault, db_session: Session, foyer: Foyer) -> Document:
    return deposit(vault, db_session, foyer, pdf_of(4000))


@pytest.fixture
def demande(foyer: Foyer) -> DemandeRef:
    return DemandeRef(id=DEMANDE, foyer_id=foyer.id, is_open=True)


@pytest.fixture
def handled(db_session: Session, clock: FrozenClock) -> None:
    """The crèche service holds a task of the demande."""
    consent.open_access(db_session, clock, DEMANDE, CRECHE)
    db_session.commit()


def agent(*services: int, account_id: int = 7) -> AgentReader:
    return AgentReader(account_id=account_id, service_ids=frozenset(services))


def give(session: Session, clock: FrozenClock, document: Document, demande: DemandeRef) -> None:
    consent.grant(session, clock, 1, document, demande)
    session.commit()


@pytest.mark.usefixtures("handled")
def test_agent_of_handling_service_reads_a_granted_document(
    vault: Vault, db_session: Session, clock: FrozenClock, document: Document, demande: DemandeRef
) -> None:
    give(db_session, clock, document, demande)

    opened = vault.open(db_session, agent(CRECHE), document.id, DEMANDE, purpose="view")

    assert b"".join(opened.chunks) == pdf_of(4000)
    reads = consent.reads_of(db_session, document.foyer_id, document.id)
    assert [(r.reader_id, r.service_id, r.demande_id, r.purpose) for r in reads] == [
        (7, CRECHE, DEMANDE, "view")
    ]


@pytest.mark.usefixtures("handled")
def test_agent_without_consent_cannot_read_document(
    vault: Vault, db_session: Session, document: Document
) -> None:
    with pytest.raises(AccessDenied):
        vault.open(db_session, agent(CRECHE), document.id, DEMANDE)
    assert consent.reads_of(db_session, document.foyer_id, document.id) == []


@pytest.mark.usefixtures("handled")
def test_agent_of_another_service_cannot_read_a_granted_document(
    vault: Vault, db_session: Session, clock: FrozenClock, document: Document, demande: DemandeRef
) -> None:
    give(db_session, clock, document, demande)

    with pytest.raises(AccessDenied):
        vault.open(db_session, agent(ECOLES), document.id, DEMANDE)


@pytest.mark.usefixtures("handled")
def test_consent_for_one_demande_does_not_open_another(
    vault: Vault, db_session: Session, clock: FrozenClock, document: Document, demande: DemandeRef
) -> None:
    give(db_session, clock, document, demande)
    consent.open_access(db_session, clock, DEMANDE + 1, CRECHE)

    with pytest.raises(AccessDenied):
        vault.open(db_session, agent(CRECHE), document.id, DEMANDE + 1)
    with pytest.raises(AccessDenied):
        vault.open(db_session, agent(CRECHE), document.id)


@pytest.mark.usefixtures("handled")
def test_revoked_consent_closes_the_document_again(
    vault: Vault, db_session: Session, clock: FrozenClock, document: Document, demande: DemandeRef
) -> None:
    give(db_session, clock, document, demande)

    assert consent.revoke(db_session, clock, 1, document, demande) is True
    db_session.commit()

    with pytest.raises(AccessDenied):
        vault.open(db_session, agent(CRECHE), document.id, DEMANDE)
    assert consent.revoke(db_session, clock, 1, document, demande) is False


def test_closed_demande_refuses_new_grants_and_revocations(
    db_session: Session, clock: FrozenClock, document: Document, foyer: Foyer
) -> None:
    closed = DemandeRef(id=DEMANDE, foyer_id=foyer.id, is_open=False)

    with pytest.raises(ConsentError):
        consent.grant(db_session, clock, 1, document, closed)
    with pytest.raises(ConsentError):
        consent.revoke(db_session, clock, 1, document, closed)


def test_document_cannot_be_granted_to_another_foyers_demande(
    db_session: Session, clock: FrozenClock, document: Document, other_foyer: Foyer
) -> None:
    with pytest.raises(ConsentError):
        consent.grant(db_session, clock, 1, document, DemandeRef(DEMANDE, other_foyer.id, True))


def test_non_reusable_document_serves_one_demande_only(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, demande: DemandeRef
) -> None:
    issued = deposit(vault, db_session, foyer, type_code="attestation_mairie", filename="a.pdf")
    give(db_session, clock, issued, demande)

    with pytest.raises(ConsentError):
        consent.grant(db_session, clock, 1, issued, DemandeRef(DEMANDE + 1, foyer.id, True))


def test_a_single_use_document_stays_used_once_its_consent_is_withdrawn(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, demande: DemandeRef
) -> None:
    certificate = deposit(vault, db_session, foyer, type_code="certificat_medical")
    give(db_session, clock, certificate, demande)
    assert consent.revoke(db_session, clock, 1, certificate, demande) is True
    db_session.commit()

    with pytest.raises(DocumentAlreadyUsed) as refused:
        consent.grant(db_session, clock, 1, certificate, DemandeRef(DEMANDE + 1, foyer.id, True))
    assert refused.value.document_id == certificate.id
    give(db_session, clock, certificate, demande)  # its own demande may have it back


def test_used_elsewhere_names_only_single_use_documents_serving_another_demande(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, demande: DemandeRef
) -> None:
    certificate = deposit(vault, db_session, foyer, type_code="certificat_medical")
    unused = deposit(vault, db_session, foyer, pdf_of(4100), type_code="certificat_medical")
    reusable = deposit(vault, db_session, foyer, pdf_of(4200))
    consent.grant_all(db_session, clock, 1, [certificate, reusable], demande)
    db_session.commit()
    papers = [certificate, unused, reusable]

    assert consent.used_elsewhere(db_session, papers, DEMANDE + 1) == {certificate.id}
    assert consent.used_elsewhere(db_session, papers, None) == {certificate.id}
    assert consent.used_elsewhere(db_session, papers, DEMANDE) == set()


def test_granting_twice_keeps_one_grant(
    db_session: Session, clock: FrozenClock, document: Document, demande: DemandeRef
) -> None:
    first = consent.grant(db_session, clock, 1, document, demande)
    second = consent.grant(db_session, clock, 1, document, demande)

    assert first is second


@pytest.mark.usefixtures("handled")
def test_agent_lists_only_documents_granted_to_the_demande(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, demande: DemandeRef
) -> None:
    shared = deposit(vault, db_session, foyer, pdf_of(1000))
    deposit(vault, db_session, foyer, pdf_of(1100), type_code="avis_imposition")
    give(db_session, clock, shared, demande)

    assert consent.granted_documents(db_session, agent(CRECHE), DEMANDE) == [shared]
    assert consent.granted_documents(db_session, agent(ECOLES), DEMANDE) == []


def test_reads_of_another_foyers_document_are_not_listed(
    db_session: Session, document: Document, other_foyer: Foyer
) -> None:
    with pytest.raises(DocumentNotFound):
        consent.reads_of(db_session, other_foyer.id, document.id)


def test_family_reads_its_own_document_without_a_demande(
    vault: Vault, db_session: Session, document: Document, foyer: Foyer
) -> None:
    opened = vault.open(db_session, FamilyReader(3, foyer.id), document.id)

    assert b"".join(opened.chunks) == pdf_of(4000)


def test_several_documents_granted_at_once_are_journaled_in_order_on_a_verified_chain(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, demande: DemandeRef
) -> None:
    papers = [deposit(vault, db_session, foyer, pdf_of(4000 + n)) for n in range(3)]
    give(db_session, clock, papers[0], demande)  # already granted: kept, not journaled again

    grants = consent.grant_all(db_session, clock, 1, papers, demande)
    db_session.commit()

    assert [g.document_id for g in grants] == [p.id for p in papers]
    chain = journal.chain_of(foyer.id)
    granted = [e for e in journal.entries(db_session, chain) if e.event == "consent.granted"]
    assert [e.document_id for e in granted] == [papers[0].id, papers[1].id, papers[2].id]
    assert [e.seq for e in granted] == sorted({e.seq for e in granted})
    assert journal.verify(db_session) == []


def test_one_document_that_may_not_be_granted_stops_the_others(
    vault: Vault, db_session: Session, clock: FrozenClock, foyer: Foyer, demande: DemandeRef
) -> None:
    issued = deposit(vault, db_session, foyer, type_code="attestation_mairie", filename="a.pdf")
    give(db_session, clock, issued, demande)
    fresh = deposit(vault, db_session, foyer, pdf_of(5000))
    other = DemandeRef(DEMANDE + 1, foyer.id, True)

    with pytest.raises(ConsentError):
        consent.grant_all(db_session, clock, 1, [fresh, issued], other)

    assert not [added for added in db_session.new if isinstance(added, Grant)]
