"""Retention, applied: a closed demande is kept for its procedure's period, then erased.

Each procedure says how long a closed demande is kept, counted from its closing
(`retention_days`), and what becomes of it then (`retention_rule`):

- "anonymiser" (the default): the demande stays in the family's list and the town's figures
  (its number, procedure, status and dates), and its answers, its workflow state and its
  history (messages, comments, who did what) are erased; one line of history says when;
- "supprimer": the demande is deleted with its steps and history. A demande that another
  part of the portal still names (an enrolment or an absence it led to) is anonymised
  instead: nothing is half-deleted.

Either way the consents it still carried end, each journaled, and the family's documents
stay in its vault: they are the family's. Each pass journals one entry per demande, with
the procedure, the rule and the dates only (never what was erased). `due` is the dry run:
what the next pass will erase, without erasing it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from coffre import consent
from coffre.clock import Clock
from coffre.consent import DemandeRef
from coffre.journal import chain as journal
from coffre.models import DemandeAccess, Grant
from procedures.catalogue import definition_of
from procedures.definitions import RETENTION_ANONYMISE, RETENTION_DELETE
from procedures.models import Demande, DemandeEvent, ProcedureVersion, Task

ERASED = "retention_applied"  # the one line of history an anonymised demande keeps
BATCH = 200  # demandes erased per transaction


@dataclass(frozen=True)
class Due:
    """A closed demande past its retention period, as the dry run lists it."""

    demande_id: int
    number: str | None
    procedure_code: str
    closed_at: datetime
    retention_days: int
    rule: str


def due(
    session: Session, now: datetime, limit: int | None = None, *, claim: bool = False
) -> list[Due]:
    """The closed demandes past their procedure's retention period, not yet erased, oldest
    closing first. `claim`: locked for this transaction, those another worker holds skipped
    (PostgreSQL; SQLite has one writer at a time)."""
    versions = session.scalars(
        select(ProcedureVersion).options(
            load_only(ProcedureVersion.id, ProcedureVersion.code, ProcedureVersion.metadata_json)
        )
    ).all()
    kept: dict[int, list[int]] = defaultdict(list)  # retention days -> versions
    about: dict[int, tuple[str, int, str]] = {}
    for version in versions:
        definition = definition_of(version)
        kept[definition.retention_days].append(version.id)
        about[version.id] = (version.code, definition.retention_days, definition.retention_rule)
    if not kept:
        return []
    past = or_(
        *(
            and_(
                Demande.procedure_version_id.in_(ids),
                Demande.closed_at < now - timedelta(days=days),
            )
            for days, ids in kept.items()
        )
    )
    erased = exists().where(DemandeEvent.demande_id == Demande.id, DemandeEvent.kind == ERASED)
    query = (
        select(Demande.id, Demande.number, Demande.procedure_version_id, Demande.closed_at)
        .where(Demande.closed_at.is_not(None), past, ~erased)
        .order_by(Demande.closed_at, Demande.id)
    )
    if limit is not None:
        query = query.limit(limit)
    if claim:
        query = query.with_for_update(skip_locked=True, of=Demande)
    found = []
    for row in session.execute(query):
        code, days, rule = about[row.procedure_version_id]
        found.append(Due(row.id, row.number, code, row.closed_at, days, rule))
    return found


def apply(session: Session, clock: Clock) -> list[Due]:
    """Erase every closed demande past its retention period (see the module); commits
    every `BATCH` demandes. Returns what was erased."""
    done: list[Due] = []
    while batch := due(session, clock.now(), BATCH, claim=True):
        done += [replace(item, rule=_erase(session, clock, item)) for item in batch]
        session.commit()
    return done


def _erase(session: Session, clock: Clock, item: Due) -> str:
    """Erase one demande; returns the rule applied."""
    demande = session.get_one(Demande, item.demande_id)
    ref = DemandeRef(demande.id, demande.foyer_id, is_open=False)
    ended = consent.end_all(session, clock, ref, "retention")
    rule = item.rule
    if rule == RETENTION_DELETE and not _delete(session, demande):
        rule = RETENTION_ANONYMISE  # still named elsewhere: anonymised instead
    if rule == RETENTION_ANONYMISE:
        _anonymise(session, clock, demande)
    journal.record(
        session,
        clock,
        "demande.retention_applied",
        foyer_id=ref.foyer_id,
        demande_id=ref.id,
        details={
            "procedure": item.procedure_code,
            "rule": rule,
            "retention_days": item.retention_days,
            "closed_at": item.closed_at.isoformat(),
            "consents_ended": ended,
        },
    )
    session.flush()
    return rule


def _anonymise(session: Session, clock: Clock, demande: Demande) -> None:
    demande.form_data = "{}"
    demande.workflow_state = None
    demande.created_by = None
    session.execute(delete(DemandeEvent).where(DemandeEvent.demande_id == demande.id))
    session.add(
        DemandeEvent(demande_id=demande.id, at=clock.now(), kind=ERASED, internal=False, comment="")
    )


def _delete(session: Session, demande: Demande) -> bool:
    """Delete the demande and what names it here; False (nothing deleted) if another part of
    the portal still names it."""
    try:
        with session.begin_nested():
            session.execute(delete(Grant).where(Grant.demande_id == demande.id))
            session.execute(delete(DemandeAccess).where(DemandeAccess.demande_id == demande.id))
            session.execute(delete(Task).where(Task.demande_id == demande.id))
            session.execute(delete(DemandeEvent).where(DemandeEvent.demande_id == demande.id))
            session.execute(delete(Demande).where(Demande.id == demande.id))
    except IntegrityError:
        return False
    session.expunge(demande)
    return True
