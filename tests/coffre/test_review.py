"""An agent's verdict on a document, always through the one access check."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from coffre import consent, review
from coffre.clock import FrozenClock
from coffre.consent import AgentReader, DemandeRef
from coffre.errors import AccessDenied
from coffre.journal import chain as journal
from coffre.models import Document, DocumentState, Foyer, JournalEntry
from coffre.review import RefusalReason
from coffre.vault import Vault
from tests.coffre.conftest import deposit, pdf_of

pytestmark = pytest.mark.usefixtures("db_session")

CRECHE, ECOLES = 10, 20
DEMANDE = 500


@pytest.fixture
def document(vault: Vault, db_session: Session, foyer: Foyer) -> Document:
    return deposit(vault, db_session, foyer, pdf_of(4000))


@pytest.fixture
def demande(db_session: Session, clock: FrozenClock, foyer: Foyer) -> DemandeRef:
    """An open demande that the crèche service handles."""
    consent.open_access(db_session, clock, DEMANDE, CRECHE)
    db_session.commit()
    return DemandeRef(id=DEMANDE, foyer_id=foyer.id, is_open=True)


@pytest.fixture
def granted(
    db_session: Session, clock: FrozenClock, document: Document, demande: DemandeRef
) -> Document:
    consent.grant(db_session, clock, 1, document, demande)
    db_session.commit()
    return document


def agent(*services: int) -> AgentReader:
    return AgentReader(account_id=7, service_ids=frozenset(services))


def stored_state(session: Session, document: Document) -> tuple[DocumentState, str | None]:
    session.refresh(document)
    return document.state, document.refusal_reason


def last_entry(session: Session, document: Document) -> JournalEntry:
    *_, entry = journal.entries(session, journal.chain_of(document.foyer_id))
    return entry


def test_agent_with_consent_validates_a_document(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    review.validate(db_session, clock, agent(CRECHE), granted.id, DEMANDE)

    assert stored_state(db_session, granted) == (DocumentState.VALIDE, None)
    entry = last_entry(db_session, granted)
    assert (entry.event, entry.actor_id, entry.document_id, entry.demande_id) == (
        "document.validated",
        7,
        granted.id,
        DEMANDE,
    )


def test_agent_with_consent_refuses_with_a_reason_and_comment(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    review.refuse(
        db_session,
        clock,
        agent(CRECHE),
        granted.id,
        DEMANDE,
        RefusalReason.PERIME,
        "  daté de plus de trois mois  ",
    )

    assert stored_state(db_session, granted) == (
        DocumentState.REFUSE,
        "perime: daté de plus de trois mois",
    )
    entry = last_entry(db_session, granted)
    assert (entry.event, json.loads(entry.details)) == ("document.refused", {"reason": "perime"})


def test_refusal_without_comment_keeps_the_reason_alone(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    review.refuse(db_session, clock, agent(CRECHE), granted.id, DEMANDE, RefusalReason.ILLISIBLE)

    assert stored_state(db_session, granted) == (DocumentState.REFUSE, "illisible")


def test_long_refusal_comment_is_cut_to_the_column(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    review.refuse(
        db_session, clock, agent(CRECHE), granted.id, DEMANDE, RefusalReason.INCOMPLET, "x" * 900
    )

    _, reason = stored_state(db_session, granted)
    assert reason is not None and len(reason) == 500 and reason.startswith("incomplet: xxx")


def test_validating_a_refused_document_clears_the_reason(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    review.refuse(db_session, clock, agent(CRECHE), granted.id, DEMANDE, RefusalReason.ILLISIBLE)
    review.validate(db_session, clock, agent(CRECHE), granted.id, DEMANDE)

    assert stored_state(db_session, granted) == (DocumentState.VALIDE, None)


@pytest.mark.usefixtures("demande")
def test_agent_without_consent_cannot_validate_or_refuse(
    db_session: Session, clock: FrozenClock, document: Document
) -> None:
    entries_before = len(list(journal.entries(db_session, journal.chain_of(document.foyer_id))))

    with pytest.raises(AccessDenied):
        review.validate(db_session, clock, agent(CRECHE), document.id, DEMANDE)
    db_session.rollback()
    with pytest.raises(AccessDenied):
        review.refuse(db_session, clock, agent(CRECHE), document.id, DEMANDE, RefusalReason.PERIME)
    db_session.rollback()

    assert stored_state(db_session, document) == (DocumentState.DEPOSE, None)
    chain = list(journal.entries(db_session, journal.chain_of(document.foyer_id)))
    assert len(chain) == entries_before


def test_agent_of_another_service_cannot_validate_a_granted_document(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    with pytest.raises(AccessDenied):
        review.validate(db_session, clock, agent(ECOLES), granted.id, DEMANDE)
    db_session.rollback()

    assert stored_state(db_session, granted) == (DocumentState.DEPOSE, None)


def test_consent_for_one_demande_does_not_allow_a_verdict_for_another(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    consent.open_access(db_session, clock, DEMANDE + 1, CRECHE)
    db_session.commit()

    with pytest.raises(AccessDenied):
        review.refuse(
            db_session, clock, agent(CRECHE), granted.id, DEMANDE + 1, RefusalReason.ILLISIBLE
        )
    db_session.rollback()

    assert stored_state(db_session, granted) == (DocumentState.DEPOSE, None)


def test_revoked_consent_stops_verdicts(
    db_session: Session, clock: FrozenClock, granted: Document, demande: DemandeRef
) -> None:
    consent.revoke(db_session, clock, 1, granted, demande)
    db_session.commit()

    with pytest.raises(AccessDenied):
        review.validate(db_session, clock, agent(CRECHE), granted.id, DEMANDE)
    db_session.rollback()

    assert stored_state(db_session, granted) == (DocumentState.DEPOSE, None)


def test_start_review_marks_a_deposited_document_only(
    db_session: Session, clock: FrozenClock, granted: Document
) -> None:
    review.start_review(db_session, clock, agent(CRECHE), granted.id, DEMANDE)
    assert stored_state(db_session, granted) == (DocumentState.EN_VERIFICATION, None)

    review.validate(db_session, clock, agent(CRECHE), granted.id, DEMANDE)
    review.start_review(db_session, clock, agent(CRECHE), granted.id, DEMANDE)
    assert stored_state(db_session, granted) == (DocumentState.VALIDE, None)


@pytest.mark.usefixtures("demande")
def test_start_review_without_consent_is_denied(
    db_session: Session, clock: FrozenClock, document: Document
) -> None:
    with pytest.raises(AccessDenied):
        review.start_review(db_session, clock, agent(CRECHE), document.id, DEMANDE)
    db_session.rollback()

    assert stored_state(db_session, document) == (DocumentState.DEPOSE, None)
