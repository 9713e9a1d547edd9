"""A foyer's data, as the export gives it back (décret n° 2018-853): open, structured, whole.

The vault's ZIP (`coffre.portability.export`) holds the documents; this adds what the portal
knows of the foyer besides them, in `donnees/`: one JSON file (`donnees.json`, described by the JSON
Schema `interop/export-donnees.schema.json`, copied beside it) and the same tables as CSV
files (UTF-8, `;`-separated, a header line), one per table. Each file is listed in the ZIP's
manifest with its size and SHA-256.

What is given: the household and its members, the family accounts (never a password hash or
a second-factor secret), the demandes with their answers and the history the family sees
(agents' internal notes are the service's, not the family's), the consents given and
withdrawn, the invoices with their lines and the payments, the activity enrolments, the
bookings and the reported absences. Each table's columns are listed below: a column added to
a model is not exported until it is named here and in the schema (a test compares them).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from accounts.models import Account, Role
from coffre.models import Document, Foyer, FoyerMember, Grant
from facturation.models import Invoice, InvoiceLine, Payment, PaymentInvoice
from procedures.models import Demande, DemandeEvent, ProcedureVersion
from reservations.models import Activity, ActivitySession, Booking, Enrolment, ReportedAbsence

SCHEMA_PATH = Path(__file__).with_name("export-donnees.schema.json")
SCHEMA_ID = "https://schemas.portail-famille.example/export-donnees/1"
FOLDER = "donnees"


@dataclass(frozen=True)
class Table:
    """One table of the export: its name, and the query of its rows for a foyer."""

    name: str
    columns: tuple[str, ...]
    query: Callable[[int], Select[Any]]


def _select(*columns: Any) -> Select[Any]:
    """`select`, typed as the tables' queries are used: rows of any columns."""
    return select(*columns)


def _foyer(foyer_id: int) -> Select[Any]:
    return _select(
        Foyer.id, Foyer.label, Foyer.address_line, Foyer.postal_code, Foyer.city, Foyer.phone,
        Foyer.created_at, Foyer.quotient_familial, Foyer.tranche_qf, Foyer.qf_valid_until,
    ).where(Foyer.id == foyer_id)  # fmt: skip


def _members(foyer_id: int) -> Select[Any]:
    return (
        _select(
            FoyerMember.id,
            FoyerMember.role,
            FoyerMember.first_name,
            FoyerMember.last_name,
            FoyerMember.birth_date,
            FoyerMember.school,
            FoyerMember.has_pai,
            FoyerMember.allergies,
        )
        .where(FoyerMember.foyer_id == foyer_id)
        .order_by(FoyerMember.id)
    )


def _accounts(foyer_id: int) -> Select[Any]:
    return (
        _select(
            Account.id,
            Account.email,
            Account.display_name,
            Account.is_active,
            Account.created_at,
            Account.last_login_at,
        )
        .where(Account.foyer_id == foyer_id, Account.role == Role.FAMILLE)
        .order_by(Account.id)
    )


def _demandes(foyer_id: int) -> Select[Any]:
    return (
        _select(
            Demande.id,
            Demande.number,
            ProcedureVersion.code.label("procedure"),
            ProcedureVersion.title.label("procedure_title"),
            ProcedureVersion.version.label("procedure_version"),
            Demande.status,
            Demande.form_data.label("answers"),
            Demande.created_at,
            Demande.submitted_at,
            Demande.closed_at,
        )
        .join(ProcedureVersion, ProcedureVersion.id == Demande.procedure_version_id)
        .where(Demande.foyer_id == foyer_id)
        .order_by(Demande.id)
    )


def _history(foyer_id: int) -> Select[Any]:
    return (
        _select(
            DemandeEvent.demande_id,
            DemandeEvent.at,
            DemandeEvent.kind,
            DemandeEvent.status_from,
            DemandeEvent.status_to,
            DemandeEvent.comment,
        )
        .join(Demande, Demande.id == DemandeEvent.demande_id)
        .where(Demande.foyer_id == foyer_id, DemandeEvent.internal.is_(False))
        .order_by(DemandeEvent.demande_id, DemandeEvent.at, DemandeEvent.id)
    )


def _consents(foyer_id: int) -> Select[Any]:
    return (
        _select(Grant.document_id, Grant.demande_id, Grant.granted_at, Grant.revoked_at)
        .join(Document, Document.id == Grant.document_id)
        .where(Document.foyer_id == foyer_id)
        .order_by(Grant.id)
    )


def _invoices(foyer_id: int) -> Select[Any]:
    return (
        _select(
            Invoice.id,
            Invoice.number,
            Invoice.kind,
            Invoice.month,
            Invoice.band,
            Invoice.total_cents,
            Invoice.issued_at,
            Invoice.due_on,
            Invoice.credits_invoice_id,
            Invoice.reason,
            Invoice.document_id,
        )
        .where(Invoice.foyer_id == foyer_id)
        .order_by(Invoice.id)
    )


def _invoice_lines(foyer_id: int) -> Select[Any]:
    return (
        _select(
            InvoiceLine.invoice_id,
            InvoiceLine.member_id,
            InvoiceLine.label,
            InvoiceLine.unit,
            InvoiceLine.quantity,
            InvoiceLine.unit_price_cents,
            InvoiceLine.amount_cents,
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.foyer_id == foyer_id)
        .order_by(InvoiceLine.invoice_id, InvoiceLine.id)
    )


def _payments(foyer_id: int) -> Select[Any]:
    return (
        _select(
            Payment.id,
            Payment.method,
            Payment.state,
            Payment.amount_cents,
            Payment.reference,
            Payment.created_at,
            Payment.settled_at,
        )
        .where(Payment.foyer_id == foyer_id)
        .order_by(Payment.id)
    )


def _payment_invoices(foyer_id: int) -> Select[Any]:
    return (
        _select(PaymentInvoice.payment_id, PaymentInvoice.invoice_id)
        .join(Payment, Payment.id == PaymentInvoice.payment_id)
        .where(Payment.foyer_id == foyer_id)
        .order_by(PaymentInvoice.payment_id, PaymentInvoice.invoice_id)
    )


def _enrolments(foyer_id: int) -> Select[Any]:
    return (
        _select(
            Enrolment.id,
            Activity.name.label("activity"),
            Enrolment.member_id,
            Enrolment.starts_on,
            Enrolment.ends_on,
            Enrolment.created_at,
            Enrolment.demande_id,
        )
        .join(Activity, Activity.id == Enrolment.activity_id)
        .where(Enrolment.foyer_id == foyer_id)
        .order_by(Enrolment.id)
    )


def _bookings(foyer_id: int) -> Select[Any]:
    return (
        _select(
            Booking.id,
            Activity.name.label("activity"),
            ActivitySession.day,
            Booking.member_id,
            Booking.state,
            Booking.created_at,
            Booking.updated_at,
        )
        .join(ActivitySession, ActivitySession.id == Booking.session_id)
        .join(Activity, Activity.id == ActivitySession.activity_id)
        .where(Booking.foyer_id == foyer_id)
        .order_by(ActivitySession.day, Booking.id)
    )


def _absences(foyer_id: int) -> Select[Any]:
    return (
        _select(
            ReportedAbsence.id,
            ReportedAbsence.member_id,
            ReportedAbsence.first_day,
            ReportedAbsence.last_day,
            ReportedAbsence.justified,
            ReportedAbsence.demande_id,
            ReportedAbsence.recorded_at,
        )
        .where(ReportedAbsence.foyer_id == foyer_id)
        .order_by(ReportedAbsence.id)
    )


_QUERIES: tuple[tuple[str, Callable[[int], Select[Any]]], ...] = (
    ("foyer", _foyer),
    ("membres", _members),
    ("comptes", _accounts),
    ("demandes", _demandes),
    ("historique_demandes", _history),
    ("consentements", _consents),
    ("factures", _invoices),
    ("lignes_factures", _invoice_lines),
    ("paiements", _payments),
    ("paiements_factures", _payment_invoices),
    ("inscriptions_activites", _enrolments),
    ("reservations", _bookings),
    ("absences_signalees", _absences),
)
TABLES = tuple(
    Table(name, tuple(str(column.key) for column in query(0).selected_columns), query)
    for name, query in _QUERIES
)


def foyer_data(session: Session, foyer_id: int) -> dict[str, Any]:
    """The foyer's data as the JSON file gives it: `{"$schema": ..., table: [rows]}`."""
    data: dict[str, Any] = {"$schema": SCHEMA_ID}
    for table in TABLES:
        rows = session.execute(table.query(foyer_id)).all()
        data[table.name] = [
            {
                column: _plain(column, value)
                for column, value in zip(table.columns, row, strict=True)
            }
            for row in rows
        ]
    return data


def data_files(session: Session, foyer_id: int) -> dict[str, bytes]:
    """The files of `donnees/` by their name in the ZIP: the JSON, its schema, a CSV a table."""
    data = foyer_data(session, foyer_id)
    files = {
        f"{FOLDER}/donnees.json": json.dumps(data, ensure_ascii=False, indent=1).encode(),
        f"{FOLDER}/donnees.schema.json": SCHEMA_PATH.read_bytes(),
    }
    for table in TABLES:
        files[f"{FOLDER}/{table.name}.csv"] = _csv(table, data[table.name])
    return files


def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return result


def _plain(column: str, value: object) -> object:
    """A value as JSON has it: dates in ISO 8601, enums by their value, answers as an object."""
    if column == "answers" and isinstance(value, str):
        return json.loads(value or "{}")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _csv(table: Table, rows: Sequence[dict[str, Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in table.columns])
    return text.getvalue().encode("utf-8")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
