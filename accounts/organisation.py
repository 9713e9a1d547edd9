"""Administration of the organisation: entities, their services, and the administrative journal.

An administrator is an ADMIN account. Without an entity it administers the whole
installation; bound to an entity (`Account.entity_id`) it acts only within that entity:
anything outside is reported as not found, as if it did not exist. Every change is written
to the administrative journal in the same transaction, with the target's state before and
after. Agents are administered in accounts.agents, document types in
accounts.document_types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from accounts.models import Account, AdminJournalEntry, Entity, Role, Service
from coffre.clock import Clock

NAME_MAX = 200
# Slugs and service codes are referenced by diagrams' lane mappings: short, lowercase, stable.
CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{1,59}")


class AdminError(Exception):
    """Base of the administration's errors; none carries personal data."""


class NotAnAdministrator(AdminError):
    """The acting account is not an active administrator."""


class OutsideScope(AdminError):
    """The action needs a global administrator (pages answer 403)."""


class NotFound(AdminError):
    """No such entity, service, agent or type within the administrator's reach (pages: 404)."""


class InvalidValue(AdminError):
    """A field's value is refused; `field` names it and `reason` says why, for the form."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Administrator:
    """The acting administrator and its reach."""

    id: int
    entity_id: int | None

    @property
    def is_global(self) -> bool:
        return self.entity_id is None

    def reaches(self, entity_id: int | None) -> bool:
        """Whether this administrator may act on things of that entity."""
        return self.is_global or (entity_id is not None and entity_id == self.entity_id)


def administrator(session: Session, actor_id: int) -> Administrator:
    """The administrator acting as `actor_id`; NotAnAdministrator for any other account."""
    account = session.get(Account, actor_id)
    if account is None or account.role is not Role.ADMIN or not account.is_active:
        raise NotAnAdministrator()
    return Administrator(account.id, account.entity_id)


def global_administrator(session: Session, actor_id: int) -> Administrator:
    """The acting administrator if it administers the whole installation; OutsideScope else."""
    actor = administrator(session, actor_id)
    if not actor.is_global:
        raise OutsideScope()
    return actor


def record(
    session: Session,
    clock: Clock,
    actor: Administrator,
    *,
    action: str,
    target: tuple[str, object],
    entity_id: int | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """Add one entry to the administrative journal (the caller's transaction commits it)."""
    target_type, target_id = target
    session.add(
        AdminJournalEntry(
            at=clock.now(),
            actor_id=actor.id,
            entity_id=entity_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            before=_json(before),
            after=_json(after),
        )
    )


def _json(state: Mapping[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(dict(state), ensure_ascii=False, sort_keys=True)


def clean_name(value: str, field: str = "name") -> str:
    """A display name, trimmed; refused when blank or too long."""
    name = " ".join(value.split())
    if not name:
        raise InvalidValue(field, "blank")
    if len(name) > NAME_MAX:
        raise InvalidValue(field, "too_long")
    return name


def _clean_code(value: str, field: str) -> str:
    code = value.strip().lower()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidValue(field, "format")
    return code


# --- entities and services ---------------------------------------------------------------


def _state(target: Entity | Service) -> dict[str, Any]:
    """What the journal keeps of an entity or a service."""
    if isinstance(target, Entity):
        return {"slug": target.slug, "name": target.name}
    return {"code": target.code, "name": target.name, "entity_id": target.entity_id}


def _journal(
    session: Session,
    clock: Clock,
    actor: Administrator,
    target: Entity | Service,
    change: str,
    before: dict[str, Any] | None,
) -> None:
    """Journal an entity's or a service's change ("created", "renamed") and commit."""
    kind, entity_id = (
        ("entity", target.id) if isinstance(target, Entity) else ("service", target.entity_id)
    )
    record(
        session,
        clock,
        actor,
        action=f"{kind}.{change}",
        target=(kind, target.id),
        entity_id=entity_id,
        before=before,
        after=_state(target),
    )
    session.commit()


def create_entity(session: Session, clock: Clock, actor_id: int, *, slug: str, name: str) -> int:
    """Add an entity (global administrators only); commits and returns its id."""
    actor = global_administrator(session, actor_id)
    slug, name = _clean_code(slug, "slug"), clean_name(name)
    if session.scalar(select(Entity.id).where(Entity.slug == slug)) is not None:
        raise InvalidValue("slug", "taken")
    entity = Entity(slug=slug, name=name)
    session.add(entity)
    session.flush()
    _journal(session, clock, actor, entity, "created", before=None)
    return entity.id


def rename_entity(session: Session, clock: Clock, actor_id: int, entity_id: int, name: str) -> None:
    """Change an entity's name (global administrators only); commits."""
    actor = global_administrator(session, actor_id)
    entity = session.get(Entity, entity_id)
    if entity is None:
        raise NotFound()
    before = _state(entity)
    entity.name = clean_name(name)
    if entity.name != before["name"]:
        _journal(session, clock, actor, entity, "renamed", before)


def entity_in_reach(session: Session, actor_id: int, entity_id: int) -> Entity:
    """An entity this administrator administers; NotFound otherwise."""
    actor = administrator(session, actor_id)
    entity = session.get(Entity, entity_id)
    if entity is None or not actor.reaches(entity.id):
        raise NotFound()
    return entity


def service_in_reach(session: Session, actor_id: int, service_id: int) -> Service:
    """A service of an entity this administrator administers; NotFound otherwise."""
    actor = administrator(session, actor_id)
    service = session.get(Service, service_id)
    if service is None or not actor.reaches(service.entity_id):
        raise NotFound()
    return service


def create_service(
    session: Session, clock: Clock, actor_id: int, entity_id: int, *, code: str, name: str
) -> int:
    """Add a service to an entity the administrator administers; commits and returns its id."""
    actor = administrator(session, actor_id)
    entity = entity_in_reach(session, actor_id, entity_id)
    code, name = _clean_code(code, "code"), clean_name(name)
    if session.scalar(select(Service.id).where(Service.code == code)) is not None:
        raise InvalidValue("code", "taken")
    service = Service(entity_id=entity.id, code=code, name=name)
    session.add(service)
    session.flush()
    _journal(session, clock, actor, service, "created", before=None)
    return service.id


def rename_service(
    session: Session, clock: Clock, actor_id: int, service_id: int, name: str
) -> None:
    """Change a service's name (its code, used by the diagrams, stays); commits."""
    actor = administrator(session, actor_id)
    service = service_in_reach(session, actor_id, service_id)
    before = _state(service)
    service.name = clean_name(name)
    if service.name != before["name"]:
        _journal(session, clock, actor, service, "renamed", before)


def set_runs_counter(
    session: Session, clock: Clock, actor_id: int, service_id: int, runs_counter: bool
) -> None:
    """Say whether a service runs the town's counter (global administrators only); commits.

    Its agents then issue family codes and may open any foyer's space at the counter
    (guichet.rights): a right for the town's own reception, not for partners.
    """
    actor = global_administrator(session, actor_id)
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound()
    if service.runs_counter == runs_counter:
        return
    before = {"runs_counter": service.runs_counter}
    service.runs_counter = runs_counter
    record(
        session,
        clock,
        actor,
        action="service.counter_changed",
        target=("service", service.id),
        entity_id=service.entity_id,
        before=before,
        after={"runs_counter": runs_counter},
    )
    session.commit()


# --- what an administrator sees -----------------------------------------------------------


@dataclass(frozen=True)
class ServiceView:
    id: int
    code: str
    name: str
    entity_id: int
    runs_counter: bool


@dataclass(frozen=True)
class EntityView:
    id: int
    slug: str
    name: str
    services: tuple[ServiceView, ...]


def entities(session: Session, actor_id: int) -> list[EntityView]:
    """The entities this administrator administers, with their services, by name."""
    actor = administrator(session, actor_id)
    query = select(Entity).order_by(Entity.name, Entity.id)
    if not actor.is_global:
        query = query.where(Entity.id == actor.entity_id)
    return [
        EntityView(
            entity.id,
            entity.slug,
            entity.name,
            tuple(
                ServiceView(s.id, s.code, s.name, s.entity_id, s.runs_counter)
                for s in entity.services
            ),
        )
        for entity in session.scalars(query)
    ]


@dataclass(frozen=True)
class JournalLine:
    at: datetime
    actor: str
    entity: str | None
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def journal(session: Session, actor_id: int, *, limit: int = 200) -> list[JournalLine]:
    """The latest administrative changes this administrator may read, newest first.

    A global administrator reads them all; an entity's administrator reads its entity's.
    """
    actor = administrator(session, actor_id)
    author = aliased(Account)
    query = (
        select(AdminJournalEntry, author.display_name, Entity.name)
        .join(author, author.id == AdminJournalEntry.actor_id)
        .outerjoin(Entity, Entity.id == AdminJournalEntry.entity_id)
        .order_by(AdminJournalEntry.at.desc(), AdminJournalEntry.id.desc())
        .limit(limit)
    )
    if not actor.is_global:
        query = query.where(AdminJournalEntry.entity_id == actor.entity_id)
    return [
        JournalLine(
            entry.at,
            actor_name,
            entity_name,
            entry.action,
            entry.target_type,
            entry.target_id,
            None if entry.before is None else json.loads(entry.before),
            None if entry.after is None else json.loads(entry.after),
        )
        for entry, actor_name, entity_name in session.execute(query)
    ]
