"""The worker's 2D-Doc job, and what a document's 2D-Doc shows the agent who checks it.

Each document waits `pending` after its deposit; the worker reads it through the vault
(decrypted in memory, never written to disk), looks for a 2D-Doc on a PDF's first pages or on
an image (`coffre.inspection.two_d_doc`), and records on the document what it found: none,
valid with the fields it carries, or invalid with the reason. Reading can take seconds (a
page without a barcode costs libdmtx its whole time budget), which is why it is not done
during the deposit; and a deposit never depends on it. The fields are personal data: they
stay in the database with the document and are never logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from coffre.inspection.two_d_doc import READABLE, TrustList, TwoDDoc, read
from coffre.journal import chain as journal
from coffre.models import Document, ScanState, TwoDDocState
from coffre.vault import DocumentDamaged, Vault

log = logging.getLogger(__name__)
BATCH = 3  # a few seconds each at worst: the worker's other jobs wait behind this one
# The types whose issuers print a 2D-Doc (tax notices, energy and telephone bills, CAF
# certificates, payslips): the others are not read, which would cost seconds of libdmtx for
# nothing on every vaccination booklet or family record book.
CARRIERS = frozenset(
    {"avis_imposition", "justificatif_domicile", "attestation_caf", "bulletin_salaire"}
)


def read_pending(session: Session, vault: Vault, trust: TrustList, batch: int = BATCH) -> int:
    """Read the 2D-Doc of up to `batch` pending documents, newest first; commits each.

    Returns how many were read. A document waiting for its antivirus scan waits for it; one
    whose content cannot be read (damaged, or quarantined by the antivirus) is recorded as
    carrying none, and logged by its id.
    """
    done = 0
    for _ in range(batch):
        document = session.scalar(_next_pending())
        if document is None:
            break
        found = _read(session, vault, trust, document)
        _record(session, vault, document, found)
        done += 1
    return done


def _next_pending() -> Select[Any]:
    return (
        select(Document)
        .where(Document.two_d_doc_state == TwoDDocState.PENDING)
        # After the antivirus: pdfium renders no file clamd has not passed yet.
        .where(Document.scan_state != ScanState.PENDING)
        .order_by(Document.id.desc())
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _read(session: Session, vault: Vault, trust: TrustList, document: Document) -> TwoDDoc | None:
    if document.type_code not in CARRIERS or document.mime_type not in READABLE:
        return None
    try:
        content = b"".join(vault.plaintext(session, document))
    except DocumentDamaged as exc:
        log.warning("2D-Doc: document %s cannot be read (%s)", document.id, exc.reason)
        return None
    try:
        return read(content, document.mime_type, trust)
    except Exception as exc:
        # pdfium and libdmtx are C libraries: one odd file must not stall the queue, where it
        # would come first every turn. Recorded as carrying none; the type only is logged, a
        # message might quote the content.
        log.error("2D-Doc: document %s not read (%s)", document.id, type(exc).__name__)
        return None


def _record(session: Session, vault: Vault, document: Document, found: TwoDDoc | None) -> None:
    if found is None:
        document.two_d_doc_state, document.two_d_doc_fields = TwoDDocState.NONE, None
    else:
        state = TwoDDocState.VALID if found.valid else TwoDDocState.INVALID
        document.two_d_doc_state, document.two_d_doc_fields = state, json.dumps(_stored(found))
        journal.record(
            session,
            vault.clock,
            "document.two_d_doc_read",
            foyer_id=document.foyer_id,
            document_id=document.id,
            details={"result": state.value},
        )
    session.commit()


def _stored(found: TwoDDoc) -> dict[str, Any]:
    if not found.valid:
        return {"problem": found.problem}
    return {
        "type": found.doc_type,
        "type_label": found.type_label,
        "authority": found.authority,
        "certificate": found.certificate,
        "issued_on": found.issued_on.isoformat() if found.issued_on else None,
        "signed_on": found.signed_on.isoformat() if found.signed_on else None,
        "fields": [[f.id, f.name, f.label, f.value] for f in found.fields],
        "truncated": [f.id for f in found.fields if f.truncated],  # cut by the issuer
    }


@dataclass(frozen=True)
class Authenticity:
    """What the agent is shown of a document's 2D-Doc."""

    valid: bool
    problem: str | None = None
    type_label: str = ""
    authority: str = ""
    issued_on: date | None = None
    fields: tuple[tuple[str, str], ...] = ()  # (label, value), as the 2D-Doc orders them
    quotient: int | None = None  # reference income / 12 / shares, when it carries both


def shown(document: Document) -> Authenticity | None:
    """A document's 2D-Doc as the agent sees it; None when it has none (or is not read yet)."""
    if document.two_d_doc_state == TwoDDocState.INVALID:
        stored = json.loads(document.two_d_doc_fields or "{}")
        return Authenticity(valid=False, problem=stored.get("problem"))
    if document.two_d_doc_state != TwoDDocState.VALID or not document.two_d_doc_fields:
        return None
    stored = json.loads(document.two_d_doc_fields)
    named = {name: value for _id, name, _label, value in stored["fields"]}
    truncated = set(stored.get("truncated", ()))  # read before truncation was recorded: none
    return Authenticity(
        valid=True,
        type_label=stored["type_label"],
        authority=stored["authority"],
        issued_on=date.fromisoformat(stored["issued_on"]) if stored["issued_on"] else None,
        fields=tuple(
            (f"{label} (tronqué par l'émetteur)" if field_id in truncated else label, value)
            for field_id, _name, label, value in stored["fields"]
        ),
        quotient=monthly_quotient(named.get("rfr"), named.get("nb_parts")),
    )


def monthly_quotient(income: str | None, shares: str | None) -> int | None:
    """The family quotient a tax notice gives: reference income / 12 / number of shares."""
    try:
        amount = Decimal(str(income).replace(" ", "").replace(",", "."))
        parts = Decimal(str(shares).replace(",", "."))
    except InvalidOperation:
        return None
    if not (amount.is_finite() and parts.is_finite()) or amount < 0 or parts <= 0:
        return None
    return int((amount / 12 / parts).to_integral_value())
