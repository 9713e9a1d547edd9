"""The family's view of its foyer's journal: every operation on its vault, newest first.

The journal holds ids only (`coffre.journal.chain`); this names them the way the family may
read them, page by page, in one query a page: its own adults by name, the town's agents by
their service (never by name, as on the demandes' pages), a demande by its number and
procedure, a document by its type. Nothing else of an entry is given: no key version, no
account or request id, and nothing of another foyer (the page reads the foyer's own chain,
and each join is bound to the foyer too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ColumnElement, and_, cast, select, type_coerce
from sqlalchemy.orm import Session

from accounts.models import Account, Entity, Role, Service
from coffre.journal.chain import chain_of
from coffre.models import Document, JournalEntry
from procedures.models import Demande, ProcedureVersion

PAGE_SIZE = 50
# The details an entry may show the family; the others (a key's version, an account's or
# a request's id) mean nothing to it or name someone else.
SHOWN_DETAILS = frozenset({"purpose", "documents", "versions", "changes", "channel", "reason"})


class ActorKind(StrEnum):
    ADULT = "adult"  # an adult of this foyer
    OUTSIDER = "outsider"  # a family account outside the foyer (asking to join it)
    AGENT = "agent"  # an agent of the town, at the counter or handling a demande
    SOFTWARE = "software"  # a service's software, through the API
    ADMIN = "admin"
    OPERATOR = "operator"  # the technical operator, from the command line
    AUTOMATIC = "automatic"  # the portal itself (expiry, retention)


@dataclass(frozen=True)
class JournalLine:
    """One entry as the family reads it."""

    seq: int
    at: datetime
    event: str
    actor: ActorKind
    adult_name: str | None  # only for an adult of the foyer
    service: str | None  # the agent's or software's service, when the entry names one
    entity: str | None
    type_code: str | None  # the document's type, if the entry concerns a document
    demande_number: str | None
    procedure: str | None
    details: dict[str, str | int]  # SHOWN_DETAILS only


@dataclass(frozen=True)
class JournalPage:
    lines: list[JournalLine]
    older: int | None  # the `before` of the next, older page; None on the last one


def journal_page(
    session: Session, foyer_id: int, before: int | None = None, size: int = PAGE_SIZE
) -> JournalPage:
    """The foyer's entries older than `before` (a sequence number), newest first."""
    size = max(1, min(size, PAGE_SIZE))
    chain = chain_of(foyer_id)
    query = (
        select(
            JournalEntry,
            Account.role,
            Account.foyer_id,
            Account.display_name,
            Document.type_code,
            Demande.number,
            ProcedureVersion.title,
            Service.name,
            Entity.name,
        )
        .outerjoin(Account, Account.id == JournalEntry.actor_id)
        .outerjoin(
            Document, and_(Document.id == JournalEntry.document_id, Document.foyer_id == foyer_id)
        )
        .outerjoin(
            Demande, and_(Demande.id == JournalEntry.demande_id, Demande.foyer_id == foyer_id)
        )
        .outerjoin(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .outerjoin(Service, Service.id == _service_id(session))
        .outerjoin(Entity, Entity.id == Service.entity_id)
        .where(JournalEntry.chain == chain)
        .order_by(JournalEntry.seq.desc())
        .limit(size + 1)
    )
    if before is not None:
        query = query.where(JournalEntry.seq < before)
    rows = session.execute(query).all()
    lines = [_line(foyer_id, *row) for row in rows[:size]]
    return JournalPage(lines, lines[-1].seq if len(rows) > size else None)


def _service_id(session: Session) -> ColumnElement[int]:
    """The service an entry names in its details (an agent's read), as SQL."""
    details = JournalEntry.details
    # SQLite reads JSON from text as it is; PostgreSQL needs the text cast to json.
    as_json = (
        type_coerce(details, JSON)
        if session.get_bind().dialect.name == "sqlite"
        else cast(details, JSON)
    )
    return as_json["service"].as_integer()


def _line(
    foyer_id: int,
    entry: JournalEntry,
    role: Role | None,
    actor_foyer: int | None,
    actor_name: str | None,
    type_code: str | None,
    number: str | None,
    procedure: str | None,
    service: str | None,
    entity: str | None,
) -> JournalLine:
    details: dict[str, Any] = json.loads(entry.details or "{}")
    actor = _actor(details, role, actor_foyer == foyer_id)
    return JournalLine(
        seq=entry.seq,
        at=entry.at,
        event=entry.event,
        actor=actor,
        adult_name=actor_name if actor is ActorKind.ADULT else None,
        service=service,
        entity=entity,
        # A deleted document's row is gone; its deposit entries still name its type.
        type_code=type_code or _text(details.get("type")),
        demande_number=number,
        procedure=procedure,
        details={
            key: value
            for key, value in details.items()
            if key in SHOWN_DETAILS and isinstance(value, str | int) and not isinstance(value, bool)
        },
    )


def _actor(details: dict[str, Any], role: Role | None, in_foyer: bool) -> ActorKind:
    if "operator" in details:
        return ActorKind.OPERATOR
    if role is None:
        return ActorKind.AUTOMATIC
    if role is Role.FAMILLE:
        return ActorKind.ADULT if in_foyer else ActorKind.OUTSIDER
    return {
        Role.AGENT: ActorKind.AGENT,
        Role.LOGICIEL: ActorKind.SOFTWARE,
        Role.ADMIN: ActorKind.ADMIN,
    }[role]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
