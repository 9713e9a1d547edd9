"""Retention applied: a closed demande past its procedure's period is erased, once, journaled
without what was erased; the family's documents stay in its vault."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Service
from coffre.clock import PARIS, FrozenClock
from coffre.journal import chain as journal
from coffre.models import Document, Foyer, Grant, JournalEntry, MemberRole
from coffre.vault import Vault
from procedures import catalogue, demandes
from procedures.deadlines import retention
from procedures.definitions import DefinitionError, definition_from_dict
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.models import Demande, DemandeEvent, DemandeStatus, Task
from tests.procedures.flows import family_of, journal_of, publish, submitted_creche

DAY = timedelta(days=1)
KEPT = 1825 * DAY  # the crèche's retention period


@pytest.fixture
def family(
    db_session: Session, clock: FrozenClock, foyer: Foyer, petite_enfance: Service
) -> FamilyActor:
    publish(db_session, clock, "creche")
    return family_of(db_session, clock, foyer)


def cancelled_creche(
    session: Session, ctx: EngineContext, family: FamilyActor, vault: Vault, foyer: Foyer
) -> Demande:
    demande = submitted_creche(session, ctx, family, vault, foyer)
    return demandes.cancel(session, ctx, family, demande.id)


def active_grants(session: Session, demande_id: int) -> int:
    query = select(func.count()).where(Grant.demande_id == demande_id, Grant.revoked_at.is_(None))
    return session.scalar(query) or 0


def test_a_closed_demande_is_kept_its_period_then_its_answers_and_history_are_erased(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    demande = cancelled_creche(db_session, ctx, family, vault, foyer)
    assert demande.status is DemandeStatus.ANNULEE and demande.closed_at is not None
    demande_id, number = demande.id, demande.number
    documents = db_session.scalar(select(func.count()).select_from(Document))
    assert active_grants(db_session, demande_id) == 3

    clock.advance(KEPT - timedelta(seconds=1))
    assert retention.due(db_session, clock.now()) == []
    assert retention.apply(db_session, clock) == []

    clock.advance(timedelta(seconds=2))
    [listed] = retention.due(db_session, clock.now())  # the dry run erases nothing
    assert (listed.demande_id, listed.number, listed.procedure_code) == (
        demande_id,
        number,
        "creche",
    )
    assert (listed.retention_days, listed.rule) == (1825, "anonymiser")
    db_session.expire_all()
    assert json.loads(db_session.get_one(Demande, demande_id).form_data) != {}

    [erased] = retention.apply(db_session, clock)

    assert erased.rule == "anonymiser"
    db_session.expire_all()
    kept = db_session.get_one(Demande, demande_id)
    assert (kept.number, kept.status) == (number, DemandeStatus.ANNULEE)
    assert json.loads(kept.form_data) == {} and kept.workflow_state is None
    history = db_session.scalars(select(DemandeEvent).where(DemandeEvent.demande_id == demande_id))
    assert [(event.kind, event.comment) for event in history] == [("retention_applied", "")]
    assert active_grants(db_session, demande_id) == 0
    # The family's documents are the family's: all still in its vault.
    assert db_session.scalar(select(func.count()).select_from(Document)) == documents
    # Journaled: each consent that ended, then the erasure, without what was erased.
    entries = [e for e in journal_of(db_session, foyer.id) if e.demande_id == demande_id]
    assert [e.event for e in entries[-4:]] == ["consent.ended"] * 3 + ["demande.retention_applied"]
    details = json.loads(entries[-1].details)
    assert details == {
        "procedure": "creche",
        "rule": "anonymiser",
        "retention_days": 1825,
        "closed_at": listed.closed_at.isoformat(),
        "consents_ended": 3,
    }
    assert journal.verify(db_session) == []
    # Once only.
    clock.advance(30 * DAY)
    assert retention.apply(db_session, clock) == []


def test_a_creche_file_is_kept_while_the_child_attends_then_for_its_period(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    """Born in March 2025, the child leaves for school on 1 September 2028: the crèche's
    five years count from then, not from the demande's closing in September 2026."""
    child = next(m for m in foyer.members if m.role is MemberRole.ENFANT)
    child.birth_date = date(2025, 3, 1)
    db_session.commit()
    demande = cancelled_creche(db_session, ctx, family, vault, foyer)
    leaves = datetime(2028, 9, 1, tzinfo=PARIS)

    clock.advance(KEPT + DAY)  # five years after the closing: the child left two years ago
    assert retention.due(db_session, clock.now()) == []
    clock.current = (leaves + KEPT - timedelta(seconds=1)).astimezone(UTC)
    assert retention.apply(db_session, clock) == []

    clock.advance(timedelta(seconds=2))
    [erased] = retention.apply(db_session, clock)
    assert erased.demande_id == demande.id


def test_open_demandes_and_other_procedures_periods_are_left_alone(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    family: FamilyActor,
    vault: Vault,
    foyer: Foyer,
) -> None:
    still_open = submitted_creche(db_session, ctx, family, vault, foyer)
    clock.advance(3000 * DAY)

    assert retention.apply(db_session, clock) == []
    db_session.expire_all()
    assert json.loads(db_session.get_one(Demande, still_open.id).form_data) != {}


def test_a_procedure_whose_rule_is_to_delete_loses_the_demande_and_its_steps(
    db_session: Session,
    clock: FrozenClock,
    ctx: EngineContext,
    vault: Vault,
    foyer: Foyer,
    petite_enfance: Service,
) -> None:
    definition, bpmn = catalogue.read_built_in("creche")
    deleted = dataclasses.replace(definition, retention_days=30, retention_rule="supprimer")
    catalogue.publish(db_session, clock, deleted, bpmn, None)
    db_session.commit()
    family = family_of(db_session, clock, foyer)
    demande = cancelled_creche(db_session, ctx, family, vault, foyer)
    demande_id = demande.id

    clock.advance(31 * DAY)
    [erased] = retention.apply(db_session, clock)

    assert (erased.demande_id, erased.rule) == (demande_id, "supprimer")
    db_session.expire_all()
    assert db_session.get(Demande, demande_id) is None
    for model in (Task, DemandeEvent, Grant):
        count = select(func.count()).select_from(model).where(model.demande_id == demande_id)
        assert db_session.scalar(count) == 0
    last = db_session.scalars(
        select(JournalEntry)
        .where(JournalEntry.foyer_id == foyer.id)
        .order_by(JournalEntry.seq.desc())
    ).first()
    assert last is not None and last.event == "demande.retention_applied"
    assert json.loads(last.details)["rule"] == "supprimer"
    assert journal.verify(db_session) == []


def test_an_unknown_retention_rule_is_refused_with_the_two_allowed(
    db_session: Session,
) -> None:
    definition, _ = catalogue.read_built_in("creche")
    raw = json.loads(catalogue.metadata_json(definition))
    raw["retention_rule"] = "oublier"
    raw["retention_from"] = "naissance"

    with pytest.raises(DefinitionError) as refused:
        definition_from_dict(raw)
    assert "« retention_rule » vaut « anonymiser » ou « supprimer », pas « oublier »" in str(
        refused.value.problems
    )
    assert "« retention_from » vaut « cloture » ou « entree_ecole », pas « naissance »" in str(
        refused.value.problems
    )
