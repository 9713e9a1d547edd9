"""Forgotten drafts: reminded once at 23 days without change, deleted at 30."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coffre import consent
from coffre.clock import FrozenClock
from coffre.consent import DemandeRef
from coffre.models import Document, Foyer, Grant, JournalEntry
from coffre.vault import Vault
from notifications.models import OutboxMessage
from notifications.templates import render
from procedures import demandes
from procedures.deadlines.drafts import expire_drafts
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeStatus
from tests.coffre.conftest import deposit
from tests.factories import make_service
from tests.procedures.flows import family_of, publish
from worker.jobs import register_standard_jobs
from worker.loop import Worker

DAY = timedelta(days=1)


@pytest.fixture
def family(db_session: Session, clock: FrozenClock, foyer: Foyer) -> FamilyActor:
    make_service(db_session, code="scolaire")
    publish(db_session, clock, "attestation")
    return family_of(db_session, clock, foyer)


def reminders(session: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.template == "brouillon_rappel")
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def test_a_draft_is_reminded_once_at_23_days_then_deleted_at_30(
    db_session: Session, clock: FrozenClock, ctx: EngineContext, family: FamilyActor
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "attestation")
    draft_id = draft.id

    clock.advance(22 * DAY)
    assert expire_drafts(db_session, ctx) == (0, 0)

    clock.advance(DAY)
    assert expire_drafts(db_session, ctx) == (1, 0)
    clock.advance(timedelta(hours=1))
    assert expire_drafts(db_session, ctx) == (0, 0)  # the same reminder is never sent twice

    clock.advance(7 * DAY - timedelta(hours=1) - timedelta(seconds=1))
    assert expire_drafts(db_session, ctx) == (0, 0)
    clock.advance(timedelta(seconds=1))
    assert expire_drafts(db_session, ctx) == (0, 1)

    assert db_session.get(Demande, draft_id) is None
    assert len(reminders(db_session)) == 1


def test_the_reminder_says_in_french_when_the_draft_goes(
    db_session: Session, clock: FrozenClock, ctx: EngineContext, family: FamilyActor
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "attestation")
    clock.advance(23 * DAY)

    expire_drafts(db_session, ctx)

    [message] = reminders(db_session)
    subject, body = render(message.template, json.loads(message.context))
    assert subject.endswith("en brouillon sera supprimée le 1er octobre 2026")
    assert f"/famille/demandes/{draft.id}/formulaire" in body
    assert message.recipient.endswith("@test.example")


def test_a_draft_changed_at_day_20_starts_its_30_days_over(
    db_session: Session, clock: FrozenClock, ctx: EngineContext, family: FamilyActor
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "attestation")
    clock.advance(20 * DAY)
    demandes.save_draft(db_session, ctx, family, draft.id, {"motif": "cantine"})

    clock.advance(10 * DAY)  # 30 days after creation, 10 after the change
    assert expire_drafts(db_session, ctx) == (0, 0)
    clock.advance(13 * DAY)  # 23 days after the change
    assert expire_drafts(db_session, ctx) == (1, 0)
    clock.advance(6 * DAY)
    assert expire_drafts(db_session, ctx) == (0, 0)
    assert db_session.get(Demande, draft.id) is not None
    clock.advance(DAY)
    assert expire_drafts(db_session, ctx) == (0, 1)


def test_a_draft_reminded_then_changed_is_reminded_again(
    db_session: Session, clock: FrozenClock, ctx: EngineContext, family: FamilyActor
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "attestation")
    clock.advance(23 * DAY)
    expire_drafts(db_session, ctx)
    demandes.save_draft(db_session, ctx, family, draft.id, {})

    clock.advance(23 * DAY)

    assert expire_drafts(db_session, ctx) == (1, 0)
    assert len(reminders(db_session)) == 2


def test_submitted_demandes_are_never_reminded_nor_deleted(
    db_session: Session, clock: FrozenClock, ctx: EngineContext, family: FamilyActor
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "attestation")
    draft.status = DemandeStatus.ANNULEE  # as cancel() leaves it, without the engine
    db_session.commit()

    clock.advance(60 * DAY)

    assert expire_drafts(db_session, ctx) == (0, 0)
    assert db_session.get(Demande, draft.id) is not None


def test_deleting_a_draft_withdraws_its_consents_and_keeps_the_documents(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    vault: Vault,
    foyer: Foyer,
    family: FamilyActor,
) -> None:
    draft = demandes.create_draft(db_session, ctx, family, "attestation")
    document = deposit(vault, db_session, foyer)
    consent.grant(
        db_session, clock, family.account_id, document, DemandeRef(draft.id, foyer.id, True)
    )
    db_session.commit()
    draft_id = draft.id

    clock.advance(30 * DAY)
    assert expire_drafts(db_session, ctx) == (0, 1)

    grants = db_session.scalar(select(func.count()).where(Grant.demande_id == draft_id))
    assert grants == 0
    assert db_session.get(Document, document.id) is not None
    events = db_session.scalars(
        select(JournalEntry.event).where(JournalEntry.demande_id == draft_id)
    ).all()
    assert events == ["consent.granted", "consent.revoked"]


def test_the_worker_deletes_forgotten_drafts(
    sessions: sessionmaker[Session],
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    vault: Vault,
    family: FamilyActor,
) -> None:
    draft_id = demandes.create_draft(db_session, ctx, family, "attestation").id
    worker = Worker(sessions=sessions, clock=clock, name="drafts")
    register_standard_jobs(worker, vault, None, "https://portail.test")
    clock.advance(30 * DAY)

    worker.tick(clock.now())

    db_session.expire_all()
    assert db_session.scalar(select(func.count()).where(Demande.id == draft_id)) == 0
