"""Recording on the foyer the family quotient an agent validated; pricing reads it there.

The values come from the agent's form at the validation task. A family's own form only
carries the fields its procedure declares (number of shares, reference income), never
these, so a family cannot set its own bracket: it can only send the documents an agent
checks. The change is written into the demande's history, not the vault's journal, which
records vault operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from coffre.clock import local_today
from coffre.models import Foyer
from procedures.errors import Incomplete
from procedures.history import EngineContext, record_event
from procedures.operations.context import Operation, OperationContext

TRANCHES = ("A", "B", "C", "D", "E", "F")


def record_quotient(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Store the validated quotient, bracket and validity on the foyer, with a history line.

    Raises Incomplete (French sentences for the agent) when the form lacks one of them; the
    step then fails as a whole and its caller rolls back.
    """
    quotient, tranche, valid_until = _validated(context.data, local_today(context.clock))
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    assert foyer is not None  # a foreign key guarantees it
    foyer.quotient_familial, foyer.tranche_qf = quotient, tranche
    foyer.qf_valid_until, foyer.qf_set_at = valid_until, context.clock.now()
    _record(context, quotient, tranche, valid_until)
    return {"quotient": quotient, "tranche": tranche, "valide_jusqu_au": valid_until.isoformat()}


def _validated(data: Mapping[str, Any], today: date) -> tuple[int, str, date]:
    problems: list[str] = []
    quotient = _quotient(data.get("quotient"), problems)
    tranche = str(data.get("tranche") or "")
    if tranche not in TRANCHES:
        problems.append("Pour valider, choisissez la tranche tarifaire.")
    valid_until = _date(data.get("valide_jusqu_au"), today, problems)
    if problems:
        raise Incomplete(problems)
    assert quotient is not None and valid_until is not None
    return quotient, tranche, valid_until


def _quotient(value: Any, problems: list[str]) -> int | None:
    if value in (None, ""):
        problems.append("Pour valider, indiquez le quotient familial retenu.")
        return None
    quotient = round(float(value))
    if quotient < 0:
        problems.append("Le quotient familial ne peut pas être négatif.")
    return quotient


def _date(value: Any, today: date, problems: list[str]) -> date | None:
    if not value:
        problems.append("Pour valider, indiquez jusqu'à quand le quotient est valable.")
        return None
    valid_until = date.fromisoformat(str(value))
    if valid_until < today:
        problems.append("La date de fin de validité du quotient est déjà passée.")
    return valid_until


def _record(context: OperationContext, quotient: int, tranche: str, valid_until: date) -> None:
    record_event(
        context.session,
        EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault),
        context.demande,
        None,
        "quotient_enregistre",
        f"Quotient familial {quotient}, tranche {tranche}, "
        f"valable jusqu'au {valid_until.strftime('%d/%m/%Y')}.",
    )


QF_OPERATIONS: Mapping[str, Operation] = {
    "enregistrer_quotient": record_quotient,
}
