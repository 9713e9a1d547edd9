"""A demande's history, one line per event, and the context the services that write it run in."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.vault import Vault
from procedures.models import Demande, DemandeEvent, DemandeStatus
from procedures.working_hours import WorkingCalendar


@dataclass(frozen=True)
class EngineContext:
    """What the demande services need besides a session."""

    clock: Clock
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    base_url: str = "http://127.0.0.1:5000"
    vault: Vault | None = None


def record_event(
    session: Session,
    ctx: EngineContext,
    demande: Demande,
    actor_id: int | None,
    kind: str,
    comment: str = "",
    status_from: DemandeStatus | None = None,
    status_to: DemandeStatus | None = None,
    task_id: int | None = None,
    internal: bool = False,
) -> None:
    """Add one line to the demande's history."""
    session.add(
        DemandeEvent(
            demande_id=demande.id,
            at=ctx.clock.now(),
            actor_id=actor_id,
            kind=kind,
            status_from=status_from.value if status_from else None,
            status_to=status_to.value if status_to else None,
            task_id=task_id,
            internal=internal,
            comment=comment,
        )
    )
