"""What a diagram's named operation receives, returns and raises; diagrams hold no code.

Each operation receives the demande's context and the parameters the diagram gave
(evaluated by the restricted evaluator) and returns a small JSON-able result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import FoyerMember
from coffre.vault import Vault
from procedures.models import Demande


@dataclass(frozen=True)
class OperationContext:
    session: Session
    clock: Clock
    demande: Demande
    title: str  # the procedure's French title
    step_id: str  # the SpiffWorkflow task id: makes each call's side effects idempotent
    base_url: str
    data: Mapping[str, Any]  # the workflow data at this step (form values, earlier results)
    vault: Vault | None = None  # for operations that put a document into the family's vault


Operation = Callable[[OperationContext, Mapping[str, Any]], Mapping[str, Any]]


class OperationError(Exception):
    """A service task asked for something the operation refuses."""


def child_of(context: OperationContext) -> FoyerMember:
    """The child the family named in the form (`enfant`), who must be of the demande's foyer."""
    child_id = context.data.get("enfant")
    member = context.session.get(FoyerMember, child_id) if isinstance(child_id, int) else None
    if member is None or member.foyer_id != context.demande.foyer_id:
        raise OperationError(f"the child is not in foyer {context.demande.foyer_id}")
    return member
