"""What a client reads: demandes, foyers, registrations, bookings, invoices, payments.

Each list is scoped to the caller's entity, the way its agents are: a demande one of its
services handles, a foyer with such a demande or a registration in one of its activities,
its own invoices and payments. Everything else does not exist for it ("not found").
Values are plain JSON-ready dicts; `web.api.schemas` documents their shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Unpack

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from accounts.models import Account, Role
from coffre.catalogue import document_type
from coffre.models import DemandeAccess, Document, Foyer, FoyerMember
from facturation.models import Invoice, Payment, PaymentInvoice
from interop.clients import Caller
from interop.pages import Listing, Page, page
from procedures import agent_views
from procedures.catalogue import definition_of
from procedures.errors import DemandeNotFound
from procedures.models import Demande, DemandeStatus, ProcedureVersion
from reservations.models import (
    Activity,
    ActivitySession,
    AttendanceMark,
    Booking,
    Enrolment,
)


class NotVisible(DemandeNotFound):
    """Outside the caller's entity: it does not exist for this client."""


def demandes(
    session: Session,
    caller: Caller,
    *,
    status: DemandeStatus | None = None,
    procedure: str | None = None,
    **listing: Unpack[Listing],
) -> Page[dict[str, Any]]:
    """The demandes the entity's services handle, least recently changed first."""
    query = select(Demande).where(Demande.id.in_(_handled(caller)))
    if status is not None:
        query = query.where(Demande.status == status)
    if procedure:
        query = query.where(
            Demande.procedure_version_id.in_(
                select(ProcedureVersion.id).where(ProcedureVersion.code == procedure)
            )
        )
    found = page(session, query, Demande.updated_at, Demande.id, **listing)
    return Page([_summary(d) for d in found.items], found.next_cursor)


def demande(session: Session, caller: Caller, demande_id: int, now: datetime) -> dict[str, Any]:
    """One demande as the back office needs it: answers, steps, history, child and foyer."""
    view = agent_views.demande_view(session, caller.as_agent(), demande_id, now)
    d, version = view.demande, view.version
    definition = definition_of(version)
    data = json.loads(d.form_data or "{}")
    members = {m.id: m for m in view.foyer.members}
    child = None
    fields = []
    for field in definition.fields:
        value = data.get(field.name)
        if value in (None, ""):
            value = None
        elif field.type == "child":
            member = members.get(int(value)) if str(value).isdigit() else None
            child = child or (_member(member) if member else None)
            value = int(value) if str(value).isdigit() else None
        fields.append(
            {"name": field.name, "label": field.label, "type": field.type, "value": value}
        )
    return {
        **_summary(d),
        "fields": fields,
        "child": child,
        "foyer": foyer_identity(session, view.foyer),
        "steps": [
            {
                "id": line.task.id,
                "title": line.task.title,
                "service": line.service_name,
                "state": line.task.state.value,
                "for_family": line.task.for_family,
                "workable": line.workable,
                "version": line.task.row_version,
                "due_at": line.task.due_at,
                "form": [
                    {
                        "name": f.name,
                        "label": f.label,
                        "type": f.type,
                        "required": f.required,
                        "choices": list(f.choices),
                    }
                    for f in line.form
                ],
            }
            for line in view.tasks
        ],
        "history": [
            {
                "at": line.event.at,
                "kind": line.event.kind,
                "status_from": line.event.status_from,
                "status_to": line.event.status_to,
                "comment": line.event.comment,
                "internal": line.event.internal,
                "actor": line.actor_name,
            }
            for line in view.history
        ],
        "documents": [document_view(line.document) for line in view.documents],
    }


def shared_documents(session: Session, caller: Caller, demande_id: int) -> list[dict[str, Any]]:
    """The documents the foyer shares for the demande, while it does; metadata only."""
    agent = caller.as_agent()
    found = agent_views.agent_demande(session, agent, demande_id)
    foyer = session.get(Foyer, found.foyer_id)
    assert foyer is not None
    return [
        document_view(line.document)
        for line in agent_views.document_lines(session, agent, demande_id, foyer.members)
    ]


def foyers(session: Session, caller: Caller, **listing: Unpack[Listing]) -> Page[dict[str, Any]]:
    """The foyers known to the entity's services, oldest first (`created_at`, then id)."""
    query = select(Foyer).where(Foyer.id.in_(_known_foyers(caller)), Foyer.shredded_at.is_(None))
    found = page(session, query, Foyer.created_at, Foyer.id, **listing)
    return Page([foyer_identity(session, f) for f in found.items], found.next_cursor)


def foyer(session: Session, caller: Caller, foyer_id: int) -> dict[str, Any]:
    known = session.scalar(
        select(Foyer).where(
            Foyer.id == foyer_id,
            Foyer.id.in_(_known_foyers(caller)),
            Foyer.shredded_at.is_(None),
        )
    )
    if known is None:
        raise NotVisible(f"foyer {foyer_id} is not known to entity {caller.entity_id}")
    return foyer_identity(session, known)


def foyer_identity(session: Session, foyer: Foyer) -> dict[str, Any]:
    """The foyer's identity: address, quotient, adults (with their sign-in e-mail), children."""
    emails = session.scalars(
        select(Account.email).where(
            Account.foyer_id == foyer.id, Account.role == Role.FAMILLE, Account.is_active
        )
    )
    return {
        "id": foyer.id,
        "label": foyer.label,
        "address": {
            "line": foyer.address_line,
            "postal_code": foyer.postal_code,
            "city": foyer.city,
        },
        "quotient_familial": foyer.quotient_familial,
        "tranche_qf": foyer.tranche_qf,
        "qf_valid_until": foyer.qf_valid_until,
        "emails": sorted(emails),
        "members": [_member(m) for m in foyer.members],
        "created_at": foyer.created_at,
    }


def enrolments(
    session: Session, caller: Caller, **listing: Unpack[Listing]
) -> Page[dict[str, Any]]:
    """Children enrolled in the entity's activities (the registrations)."""
    query = select(Enrolment).where(Enrolment.activity_id.in_(_activities(caller)))
    found = page(session, query, Enrolment.created_at, Enrolment.id, **listing)
    return Page(
        [
            {
                "id": e.id,
                "activity": e.activity.code,
                "activity_name": e.activity.name,
                "foyer_id": e.foyer_id,
                "member_id": e.member_id,
                "starts_on": e.starts_on,
                "ends_on": e.ends_on,
                "demande_id": e.demande_id,
                "created_at": e.created_at,
            }
            for e in found.items
        ],
        found.next_cursor,
    )


def bookings(session: Session, caller: Caller, **listing: Unpack[Listing]) -> Page[dict[str, Any]]:
    """Bookings in the entity's activities, with the attendance marked for each, if any."""
    query = select(Booking).where(
        Booking.session_id.in_(
            select(ActivitySession.id).where(ActivitySession.activity_id.in_(_activities(caller)))
        )
    )
    found = page(session, query, Booking.updated_at, Booking.id, **listing)
    marks = _marks(session, found.items)
    return Page(
        [
            {
                "id": b.id,
                "activity": b.session.activity.code,
                "day": b.session.day,
                "foyer_id": b.foyer_id,
                "member_id": b.member_id,
                "state": b.state.value,
                "present": marks.get((b.session_id, b.member_id)),
                "updated_at": b.updated_at,
            }
            for b in found.items
        ],
        found.next_cursor,
    )


def invoices(session: Session, caller: Caller, **listing: Unpack[Listing]) -> Page[dict[str, Any]]:
    """The entity's invoices and credit notes, with their lines, in order of issue."""
    query = select(Invoice).where(Invoice.entity_id == caller.entity_id)
    found = page(session, query, Invoice.issued_at, Invoice.id, **listing)
    return Page([invoice_view(i) for i in found.items], found.next_cursor)


def payments(session: Session, caller: Caller, **listing: Unpack[Listing]) -> Page[dict[str, Any]]:
    """The entity's payments and refunds, and the invoices each settles."""
    query = select(Payment).where(Payment.entity_id == caller.entity_id)
    found = page(session, query, Payment.created_at, Payment.id, **listing)
    settled = _settled(session, [p.id for p in found.items])
    return Page([payment_view(p, settled.get(p.id, [])) for p in found.items], found.next_cursor)


def invoice_view(i: Invoice) -> dict[str, Any]:
    return {
        "id": i.id,
        "number": i.number,
        "kind": i.kind.value,
        "foyer_id": i.foyer_id,
        "month": i.month,
        "band": i.band,
        "total_cents": i.total_cents,
        "issued_at": i.issued_at,
        "due_on": i.due_on,
        "credits_invoice_id": i.credits_invoice_id,
        "lines": [
            {
                "member_id": line.member_id,
                "label": line.label,
                "unit": line.unit.value,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
                "amount_cents": line.amount_cents,
            }
            for line in i.lines
        ],
    }


def payment_view(p: Payment, invoice_ids: Iterable[int]) -> dict[str, Any]:
    return {
        "id": p.id,
        "foyer_id": p.foyer_id,
        "method": p.method.value,
        "state": p.state.value,
        "amount_cents": p.amount_cents,
        "reference": p.reference,
        "created_at": p.created_at,
        "settled_at": p.settled_at,
        "invoice_ids": sorted(invoice_ids),
    }


def _settled(session: Session, payment_ids: list[int]) -> dict[int, list[int]]:
    """The invoices each payment settles."""
    settled: dict[int, list[int]] = {}
    if payment_ids:
        links = session.scalars(
            select(PaymentInvoice).where(PaymentInvoice.payment_id.in_(payment_ids))
        )
        for link in links:
            settled.setdefault(link.payment_id, []).append(link.invoice_id)
    return settled


def _summary(d: Demande) -> dict[str, Any]:
    version = d.version
    return {
        "id": d.id,
        "number": d.number,
        "status": d.status,
        "procedure": {"code": version.code, "title": version.title, "version": version.version},
        "foyer_id": d.foyer_id,
        "created_at": d.created_at,
        "submitted_at": d.submitted_at,
        "updated_at": d.updated_at,
        "closed_at": d.closed_at,
        "version": d.row_version,
    }


def _member(m: FoyerMember) -> dict[str, Any]:
    return {
        "id": m.id,
        "role": m.role.value,
        "first_name": m.first_name,
        "last_name": m.last_name,
        "birth_date": m.birth_date,
        "school": m.school,
        "has_pai": m.has_pai,
        "allergies": m.allergies,
    }


def document_view(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "type": document.type_code,
        "type_label": document_type(document.type_code).label,
        "member_id": document.member_id,
        "state": document.state.value,
        "original_name": document.original_name,
        "mime_type": document.mime_type,
        "size": document.size,
        "sha256": document.sha256,
        "issued_on": document.issued_on,
        "valid_until": document.valid_until,
    }


def _handled(caller: Caller) -> Select[Any]:
    return select(DemandeAccess.demande_id).where(
        DemandeAccess.service_id.in_(caller.service_ids or {-1})
    )


def _activities(caller: Caller) -> Select[Any]:
    return select(Activity.id).where(Activity.service_id.in_(caller.service_ids or {-1}))


def _known_foyers(caller: Caller) -> Select[Any]:
    with_demande = select(Demande.foyer_id).where(Demande.id.in_(_handled(caller)))
    with_enrolment = select(Enrolment.foyer_id).where(
        Enrolment.activity_id.in_(_activities(caller))
    )
    return select(Foyer.id).where(or_(Foyer.id.in_(with_demande), Foyer.id.in_(with_enrolment)))


def _marks(session: Session, rows: Iterable[Booking]) -> Mapping[tuple[int, int], bool]:
    rows = list(rows)
    if not rows:
        return {}
    found = session.scalars(
        select(AttendanceMark).where(
            AttendanceMark.session_id.in_({b.session_id for b in rows}),
            AttendanceMark.member_id.in_({b.member_id for b in rows}),
        )
    )
    return {(m.session_id, m.member_id): m.present for m in found}
