"""A change of situation said once (« Dites-le-nous une fois »): a new address, phone number
or child, checked once by an agent and carried to everything that uses it.

`lire_changement` reads what the family declared and says what is missing (the form's
fields are all optional, each saying when to fill it); when nothing is, it notes for the
agent which demandes the change will touch. `appliquer_changement`, once the agent has
checked the change, writes it into the household file (coffre's Foyer and FoyerMember),
tells each demande that uses it (its history, read by its service and by the family),
journals it in the foyer's chain and returns the message that tells the family which
demandes and services were updated. It runs in the transaction of the agent's decision:
if anything fails, nothing of it is written.

Which demandes use what: a procedure that asks for a proof of address uses the address; one
that asks for the family record book, the CAF certificate or the tax notice uses the
household's composition (a new child changes the family quotient's parts); every demande
being processed may lead its service to call the family. Open demandes are updated; for an
address or a child, the demandes accepted in the last year (a school registration, a bus
pass) are flagged to their service too, which checks what depends on them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from accounts.models import Service
from coffre.clock import local_today
from coffre.journal import chain as journal
from coffre.models import Foyer, FoyerMember, MemberRole
from notifications.templates import date_fr
from procedures.definitions import FAMILY_LANE, Definition, definition_from_dict
from procedures.history import EngineContext, record_event
from procedures.models import (
    Demande,
    DemandeStatus,
    ProcedureVersion,
    Task,
    TaskState,
)
from procedures.operations.context import Operation, OperationContext, OperationError
from procedures.operations.sectorisation import read_sectorisation

CODE = "changement_situation"
ADDRESS, PHONE, CHILD = "adresse", "telephone", "enfant"
# The documents whose procedures use each part of the household file.
USED_BY: Mapping[str, frozenset[str]] = {
    ADDRESS: frozenset({"justificatif_domicile"}),
    CHILD: frozenset({"livret_famille", "attestation_caf", "avis_imposition"}),
}
BEING_PROCESSED = (
    DemandeStatus.DEPOSEE,
    DemandeStatus.EN_INSTRUCTION,
    DemandeStatus.EN_ATTENTE_FAMILLE,
)
IN_EFFECT = timedelta(days=365)  # an accepted registration still runs for the year
LIVE = (TaskState.OPEN, TaskState.CLAIMED, TaskState.WAITING_FAMILY)
POSTAL_CODE = re.compile(r"\d{5}")


@dataclass(frozen=True)
class Change:
    """What the family declared, checked and tidied."""

    kind: str
    address: tuple[str, str, str] = ("", "", "")  # line, postal code, town
    phone: str = ""
    child: tuple[str, str, date] | None = None  # first name, last name, birth date


@dataclass(frozen=True)
class Touched:
    """A demande of the foyer the change is carried to."""

    demande: Demande
    title: str
    service: str  # the name of the service handling it
    running: bool  # being processed (else: accepted, still in effect)

    def line(self) -> str:
        if self.running:
            number, title = self.demande.number, self.title
            return f"la demande {number} ({title}), en cours au service {self.service}"
        return (
            f"l'inscription {self.demande.number} ({self.title}), signalée au service "
            f"{self.service} qui vérifie ce qui en dépend"
        )


def read_change(data: Mapping[str, Any], today: date) -> tuple[Change | None, list[str]]:
    """The declared change, or None and what is missing or wrong, in French."""
    kind = str(data.get("changement") or "")
    text = {name: str(data.get(name) or "").strip() for name in data}
    if kind == ADDRESS:
        return _address(text)
    if kind == PHONE:
        return _phone(text.get("telephone", ""))
    if kind == CHILD:
        return _child(text, today)
    return None, ["ce qui change (adresse, téléphone ou enfant)"]


def _address(text: Mapping[str, str]) -> tuple[Change | None, list[str]]:
    line, code, town = (text.get(n, "") for n in ("adresse", "code_postal", "ville"))
    missing = [
        label
        for label, ok in (
            ("la nouvelle adresse (numéro et rue)", bool(line)),
            ("son code postal à 5 chiffres", bool(POSTAL_CODE.fullmatch(code))),
            ("sa commune", bool(town)),
        )
        if not ok
    ]
    return (None, missing) if missing else (Change(ADDRESS, address=(line, code, town)), [])


def _phone(raw: str) -> tuple[Change | None, list[str]]:
    """A French number (10 digits from 0, or +33 and 9) or another country's (+ and 8 to 15)."""
    digits = re.sub(r"[\s.\-()]", "", raw)
    if digits.startswith("+33") and len(digits) == 12 and digits[3:].isdigit():
        digits = "0" + digits[3:]
    if len(digits) == 10 and digits.startswith("0") and digits.isdigit():
        return Change(PHONE, phone=" ".join(digits[i : i + 2] for i in range(0, 10, 2))), []
    if digits.startswith("+") and digits[1:].isdigit() and 8 <= len(digits) - 1 <= 15:
        return Change(PHONE, phone=digits), []
    return None, ["un numéro de téléphone valable (par exemple 06 12 34 56 78)"]


def _child(text: Mapping[str, str], today: date) -> tuple[Change | None, list[str]]:
    first, last = text.get("enfant_prenom", ""), text.get("enfant_nom", "")
    try:
        born: date | None = date.fromisoformat(text.get("enfant_naissance", ""))
    except ValueError:
        born = None
    missing = [
        label
        for label, ok in (
            ("le prénom de l'enfant", bool(first)),
            ("son nom", bool(last)),
            ("sa date de naissance (passée)", born is not None and born <= today),
        )
        if not ok
    ]
    if missing or born is None:
        return None, missing
    return Change(CHILD, child=(first, last, born)), []


def read_situation(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Whether the form gives what its change needs (`complet`; else `motif` says what is
    missing); a complete one is noted for the agent with the demandes it will touch."""
    change, missing = read_change(context.data, local_today(context.clock))
    if change is None:
        motif = (
            "Votre déclaration est incomplète : il manque "
            + ", ".join(missing)
            + ". Rien n'a été changé ; déposez une nouvelle déclaration en les indiquant."
        )
        return {"complet": False, "motif": motif, "changement": context.data.get("changement")}
    touched = touched_by(context, change.kind)
    lines = " ; ".join(t.line() for t in touched) or "aucune autre demande du foyer"
    _note(context, "situation_lue", f"Une fois validé, ce changement sera reporté sur : {lines}.")
    return {"complet": True, "motif": "", "changement": change.kind}


def touched_by(context: OperationContext, kind: str) -> list[Touched]:
    """The foyer's demandes the change is carried to, oldest first."""
    since = context.clock.now() - IN_EFFECT
    rows = context.session.execute(
        select(Demande, ProcedureVersion)
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(
            Demande.foyer_id == context.demande.foyer_id,
            Demande.id != context.demande.id,
            ProcedureVersion.code != CODE,
            Demande.status.in_([*BEING_PROCESSED, DemandeStatus.ACCEPTEE]),
        )
        .order_by(Demande.submitted_at, Demande.id)
    ).all()
    touched = []
    for demande, version in rows:
        running = demande.status in BEING_PROCESSED
        if not running and (
            kind == PHONE or demande.closed_at is None or demande.closed_at < since
        ):
            continue
        definition = definition_from_dict(json.loads(version.metadata_json))
        if kind in USED_BY and not _uses(definition, USED_BY[kind]):
            continue
        service = _service_name(context, demande, definition)
        touched.append(Touched(demande, version.title, service, running))
    return touched


def _uses(definition: Definition, types: frozenset[str]) -> bool:
    return any(set(required.types) & types for required in definition.documents)


def _service_name(context: OperationContext, demande: Demande, definition: Definition) -> str:
    """The service holding the demande's live task, else its procedure's first service."""
    service_id = context.session.scalar(
        select(Task.service_id).where(
            Task.demande_id == demande.id, Task.state.in_(LIVE), Task.service_id.is_not(None)
        )
    )
    if service_id is not None:
        service = context.session.get(Service, service_id)
        return service.name if service else definition.title
    codes = [code for code in definition.lanes.values() if code != FAMILY_LANE]
    name = context.session.scalar(select(Service.name).where(Service.code.in_(codes)).limit(1))
    return name or definition.title


def apply_situation(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Write the checked change into the household file and carry it to every demande that
    uses it; `message` tells the family what was updated (the decision's motif)."""
    change, missing = read_change(context.data, local_today(context.clock))
    if change is None:
        raise OperationError("the change of situation is incomplete: " + ", ".join(missing))
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    if foyer is None or foyer.shredded_at is not None:
        raise OperationError(f"foyer {context.demande.foyer_id} is gone")
    touched = touched_by(context, change.kind)
    school_note = _sector_note(foyer, change) if change.kind == ADDRESS else ""
    written = _write(foyer, change)
    reference = context.demande.number or str(context.demande.id)
    for item in touched:
        _carry(context, item, change, reference, school_note)
    journal.record(
        context.session, context.clock, "foyer.situation_changed",
        foyer_id=foyer.id, actor_id=_checked_by(context), demande_id=context.demande.id,
        details={
            "changement": change.kind,
            "demandes": ",".join(str(t.demande.id) for t in touched),  # ids only
        },
    )  # fmt: skip
    message = _message(foyer, change, written, touched, school_note)
    return {
        "changement": change.kind,
        "demandes": [t.demande.number for t in touched],
        "message": message,
    }


def _write(foyer: Foyer, change: Change) -> str:
    """Change the household file; what was written, as the family reads it."""
    if change.kind == ADDRESS:
        foyer.address_line, foyer.postal_code, foyer.city = change.address
        return f"{change.address[0]}, {change.address[1]} {change.address[2]}"
    if change.kind == PHONE:
        foyer.phone = change.phone
        return change.phone
    assert change.child is not None
    first, last, born = change.child
    foyer.members.append(
        FoyerMember(role=MemberRole.ENFANT, first_name=first, last_name=last, birth_date=born)
    )
    return f"{first} {last}, né(e) le {date_fr(born)}"


def _sector_note(foyer: Foyer, change: Change) -> str:
    """For a foyer with children: the school of the new address's sector, when it differs
    from a child's school (read before the address is written)."""
    children = [m for m in foyer.members if m.role is MemberRole.ENFANT and m.school]
    if not children:
        return ""
    school = read_sectorisation().school_for(*change.address)
    if school is None:
        return "La nouvelle adresse n'est dans aucun secteur scolaire de la ville."
    now = " ".join(
        f"École actuelle de {c.first_name} : {c.school}." for c in children if c.school != school
    )
    if not now:
        return ""
    return (
        f"École du secteur de la nouvelle adresse : {school}. {now} Un changement d'école "
        "se demande par une inscription scolaire."
    )


def _carry(
    context: OperationContext, item: Touched, change: Change, reference: str, school_note: str
) -> None:
    what = {
        ADDRESS: "La nouvelle adresse du foyer",
        PHONE: "Le nouveau numéro de téléphone du foyer",
        CHILD: "L'arrivée d'un enfant dans le foyer",
    }[change.kind]
    follow = (
        "le service en tient compte pour cette demande."
        if item.running
        else "le service vérifie ce qui en dépend (école, transport, tarif)."
    )
    text = f"{what} a été vérifiée et reportée (changement de situation {reference}) : {follow}"
    ctx = EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault)
    record_event(context.session, ctx, item.demande, None, "situation_reported", text)
    if school_note:
        record_event(
            context.session, ctx, item.demande, None, "situation_reported", school_note,
            internal=True,
        )  # fmt: skip


def _checked_by(context: OperationContext) -> int | None:
    """The agent whose decision applies the change (the demande's last completed task)."""
    return context.session.scalar(
        select(Task.completed_by)
        .where(Task.demande_id == context.demande.id, Task.state == TaskState.DONE)
        .order_by(Task.completed_at.desc(), Task.id.desc())
        .limit(1)
    )


def _message(
    foyer: Foyer, change: Change, written: str, touched: Sequence[Touched], school_note: str
) -> str:
    """The family's answer: what the household file now says, and each demande updated."""
    opening = {
        ADDRESS: f"Votre nouvelle adresse est enregistrée dans votre dossier famille : {written}. "
        "Les services de la ville la lisent désormais là.",
        PHONE: f"Votre nouveau numéro, {written}, est enregistré dans votre dossier famille. "
        "Les services de la ville le lisent désormais là.",
        CHILD: f"{written}, est ajouté(e) à votre dossier famille : vous pouvez faire ses "
        "démarches (crèche, école, activités).",
    }[change.kind]
    parts = [opening]
    if touched:
        parts.append("Mises à jour aussi : " + " ; ".join(t.line() for t in touched) + ".")
    else:
        parts.append("Aucune autre de vos demandes n'était concernée.")
    if school_note:
        parts.append(school_note)
    if change.kind == CHILD and foyer.quotient_familial is not None:
        parts.append(
            "Votre quotient familial a été calculé sans cet enfant : une demande de quotient "
            "familial avec votre nouvelle attestation CAF peut le faire baisser."
        )
    return " ".join(parts)


def _note(context: OperationContext, kind: str, text: str) -> None:
    """A line of the demande's own history for its agents."""
    ctx = EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault)
    record_event(context.session, ctx, context.demande, None, kind, text, internal=True)


SITUATION_OPERATIONS: Mapping[str, Operation] = {
    "lire_changement": read_situation,
    "appliquer_changement": apply_situation,
}
