"""Every named operation a diagram may call, gathered from the modules that define them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from procedures.operations.attestations import CERTIFICATE_OPERATIONS
from procedures.operations.back_office import BACK_OFFICE_OPERATIONS
from procedures.operations.context import Operation, OperationContext, OperationError
from procedures.operations.derogation import DEROGATION_OPERATIONS
from procedures.operations.ecole import ECOLE_OPERATIONS
from procedures.operations.notify import FAMILY_OPERATIONS
from procedures.operations.pai import PAI_OPERATIONS
from procedures.operations.quotient import QF_OPERATIONS
from procedures.operations.sectorisation import SCHOOL_OPERATIONS
from procedures.operations.situation import SITUATION_OPERATIONS
from procedures.operations.transport import TRANSPORT_OPERATIONS

OPERATIONS: Mapping[str, Operation] = {
    **FAMILY_OPERATIONS,
    **BACK_OFFICE_OPERATIONS,
    **SCHOOL_OPERATIONS,
    **CERTIFICATE_OPERATIONS,
    **QF_OPERATIONS,
    **TRANSPORT_OPERATIONS,
    **DEROGATION_OPERATIONS,
    **ECOLE_OPERATIONS,
    **PAI_OPERATIONS,
    **SITUATION_OPERATIONS,
}


def run_operation(
    name: str, context: OperationContext, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Call a registered operation by name (the diagram checks refuse unknown names)."""
    try:
        operation = OPERATIONS[name]
    except KeyError:
        raise OperationError(f"unknown operation {name!r}") from None
    return operation(context, params)
