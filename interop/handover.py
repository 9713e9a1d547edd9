"""Accepted demandes handed to the back office as files, for every procedure that asks for it.

A procedure's metadata names the format (`back_office = "json"` or `"csv"`). When one of its
demandes is accepted, the worker writes `back-office/<procedure>/<number>.<format>` into the
object store, with the full identity of the child and the adults (not ids), the answers and
the decision; the back office's import picks it up there. Writing again replaces the file
atomically. Every acceptance is also the webhook event `demande.acceptee`, for a back office
that would rather be called.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import Clock
from coffre.models import DemandeAccess
from interop import views
from interop.clients import Caller
from interop.models import WebhookCursor
from procedures.catalogue import definition_of
from procedures.models import Demande, DemandeEvent, DemandeStatus
from stockage import ObjectStore

PREFIX = "back-office"
FORMAT = "portail-famille/demande/v2"
SOURCE = "handover"
SETTLE_SECONDS = 5
BATCH = 200


def export_accepted(session: Session, clock: Clock, store: ObjectStore) -> list[str]:
    """Write the file of each demande accepted since the last round; returns the keys."""
    cursor = session.get(WebhookCursor, SOURCE)
    if cursor is None:  # starts at the present: earlier acceptances were handed over by hand
        last = session.scalar(select(DemandeEvent.id).order_by(DemandeEvent.id.desc()).limit(1))
        cursor = WebhookCursor(source=SOURCE, last_id=last or 0)
        session.add(cursor)
        session.commit()
    before = clock.now().timestamp() - SETTLE_SECONDS
    events = session.scalars(
        select(DemandeEvent)
        .where(DemandeEvent.id > cursor.last_id)
        .order_by(DemandeEvent.id)
        .limit(BATCH)
    ).all()
    written = []
    for event in events:
        if event.at.timestamp() > before:
            break
        if event.status_to == DemandeStatus.ACCEPTEE.value and event.status_from != event.status_to:
            key = hand_over(session, store, event.demande_id, event.at)
            if key is not None:
                written.append(key)
        cursor.last_id = event.id
        session.commit()
    return written


def hand_over(
    session: Session, store: ObjectStore, demande_id: int, accepted_at: datetime
) -> str | None:
    """Write one demande's file if its procedure asks for one; returns its key."""
    demande = session.get(Demande, demande_id)
    if demande is None:
        return None
    version = demande.version
    form = definition_of(version).back_office
    if form is None:
        return None
    services = frozenset(
        session.scalars(
            select(DemandeAccess.service_id).where(DemandeAccess.demande_id == demande_id)
        )
    )
    record = views.demande(
        session, Caller(0, "", 0, 0, services, frozenset()), demande_id, accepted_at
    )
    record = {"format": FORMAT, "accepted_at": accepted_at, **record}
    key = f"{PREFIX}/{version.code}/{demande.number or demande.id}.{form}"
    body = _json(record) if form == "json" else _csv(record)
    store.put(key, io.BytesIO(body))
    return key


def _json(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True, default=_iso)
    return text.encode("utf-8")


def _csv(record: dict[str, Any]) -> bytes:
    """One row: the demande, the child, the foyer and up to two adults, then each answer.

    Semicolons and a UTF-8 byte order mark, as spreadsheet software in France expects.
    """
    child = record.get("child") or {}
    foyer = record["foyer"]
    adults = [m for m in foyer["members"] if m["role"] == "adulte"][:2]
    row: dict[str, Any] = {
        "numero": record["number"],
        "demarche": record["procedure"]["code"],
        "statut": record["status"],
        "deposee_le": record["submitted_at"],
        "acceptee_le": record["accepted_at"],
        "enfant_nom": child.get("last_name"),
        "enfant_prenom": child.get("first_name"),
        "enfant_naissance": child.get("birth_date"),
        "enfant_ecole": child.get("school"),
        "enfant_pai": child.get("has_pai"),
        "enfant_allergies": child.get("allergies"),
        "foyer": foyer["label"],
        "adresse": foyer["address"]["line"],
        "code_postal": foyer["address"]["postal_code"],
        "ville": foyer["address"]["city"],
        "quotient_familial": foyer["quotient_familial"],
        "tranche_qf": foyer["tranche_qf"],
        "courriels": " ".join(foyer["emails"]),
    }
    for index in range(2):
        adult = adults[index] if index < len(adults) else {}
        row[f"adulte{index + 1}_nom"] = adult.get("last_name")
        row[f"adulte{index + 1}_prenom"] = adult.get("first_name")
    for field in record["fields"]:
        row[f"champ_{field['name']}"] = field["value"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row), delimiter=";")
    writer.writeheader()
    writer.writerow({name: _cell(value) for name, value in row.items()})
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    text = _iso(value) if hasattr(value, "isoformat") else str(value)
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _iso(value: Any) -> str:
    return str(value.isoformat())
