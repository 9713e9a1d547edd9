"""Retention, applied: a closed demande is kept for its procedure's period, then erased.

Each procedure says how long a closed demande is kept (`retention_days`), counted from its
closing or, for a crèche's files (`retention_from = "entree_ecole"`), from the day the child
leaves for school if that is later (31 August of the year the child turns 3: kept while the
child attends, then for the period), and what becomes of it then (`retention_rule`):

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

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from coffre import consent
from coffre.clock import PARIS, Clock
from coffre.consent import DemandeRef
from coffre.journal import chain as journal
from coffre.models import DemandeAccess, FoyerMember, Grant
from procedures.catalogue import definition_of
from procedures.definitions import RETENTION_ANONYMISE, RETENTION_DELETE, RETENTION_FROM_SCHOOL
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
    from_school: set[int] = set()
    for version in versions:
        definition = definition_of(version)
        kept[definition.retention_days].append(version.id)
        about[version.id] = (version.code, definition.retention_days, definition.retention_rule)
        if definition.retention_from == RETENTION_FROM_SCHOOL:
            from_school.add(version.id)
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
        select(
            Demande.id,
            Demande.number,
            Demande.procedure_version_id,
            Demande.closed_at,
            Demande.form_data,
        )
        .where(Demande.closed_at.is_not(None), past, ~erased)
        .order_by(Demande.closed_at, Demande.id)
    )
    # Past the period from the closing is necessary, not enough, for the crèche's files:
    # those still held are left out here, so a batch is never filled with them.
    if limit is not None and not from_school:
        query = query.limit(limit)
    if claim:
        query = query.with_for_update(skip_locked=True, of=Demande)
    rows = session.execute(query).all()
    held = _held_until_school(session, [row for row in rows if row[2] in from_school])
    found = []
    for row in rows:
        code, days, rule = about[row.procedure_version_id]
        leaves = held.get(row.id)
        if leaves is not None and leaves + timedelta(days=days) > now:
            continue
        found.append(Due(row.id, row.number, code, row.closed_at, days, rule))
    return found[:limit] if limit is not None else found


def _held_until_school(session: Session, rows: Sequence[Any]) -> dict[int, datetime]:
    """When the child each of these demandes is about leaves for school (the end of 31
    August, Paris time, of the year the child turns 3), for those whose child is known and
    born; the others count from their closing."""
    children: dict[int, int] = {}
    for row in rows:
        value = str(json.loads(row.form_data or "{}").get("enfant", ""))
        if value.isdigit():
            children[row.id] = int(value)
    if not children:
        return {}
    born_on = select(FoyerMember.id, FoyerMember.birth_date).where(
        FoyerMember.id.in_(set(children.values())), FoyerMember.birth_date.is_not(None)
    )
    births = {row.id: row.birth_date for row in session.execute(born_on)}
    leaving = {}
    for demande_id, child in children.items():
        born = births.get(child)
        if born is not None:
            first_school_day = datetime.combine(date(born.year + 3, 9, 1), time(0), PARIS)
            leaving[demande_id] = first_school_day.astimezone(UTC)
    return leaving


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
