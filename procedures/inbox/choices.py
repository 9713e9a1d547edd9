"""What an agent may pick from in the inbox's filters: procedures and the agent's services."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Service
from procedures.models import ProcedureVersion


@dataclass(frozen=True)
class ServiceChoice:
    id: int
    name: str


@dataclass(frozen=True)
class ProcedureChoice:
    code: str
    title: str


def procedure_choices(session: Session) -> list[ProcedureChoice]:
    """Every published procedure (its one current version), by title."""
    query = select(ProcedureVersion.code, ProcedureVersion.title).where(
        ProcedureVersion.is_current.is_(True)
    )
    return sorted(
        (ProcedureChoice(row.code, row.title) for row in session.execute(query)),
        key=lambda choice: (choice.title.casefold(), choice.code),
    )


def service_choices(session: Session, service_ids: Iterable[int]) -> list[ServiceChoice]:
    """These services, by name."""
    query = select(Service.id, Service.name).where(Service.id.in_(set(service_ids)))
    rows = session.execute(query.order_by(Service.name, Service.id))
    return [ServiceChoice(row.id, row.name) for row in rows]
